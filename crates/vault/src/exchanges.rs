//! The HTTP exchanges behind each activity entry, redacted, as an OAuth
//! debugger shows them: method, URL, the headers that explain the flow,
//! bodies with every secret replaced by `[redacted]`.
//!
//! A vault operation runs inside [`capture`]; the vault's HTTP client
//! ([`CapturingHttp`]) records each exchange of that task into its buffer, and
//! the activity entry the operation writes takes them ([`take`]). Nothing
//! secret is ever recorded: bodies are parsed and secret members replaced, only
//! a fixed list of headers is kept, and whatever the request carried as a secret
//! is scrubbed from everything else (a server may echo it back).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::BoxFuture;
use mcpauth_core::http::{HttpClient, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

/// What replaces a secret (the engine's marker, so both read the same).
pub use mcpauth_core::error::REDACTED;

/// The longest body kept, in characters.
const BODY_LIMIT: usize = 4096;

/// Form fields, query parameters and JSON members whose values are secrets.
const SECRET_NAMES: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "code_verifier",
    "client_secret",
    "client_assertion",
    "assertion",
    "token",
    "registration_access_token",
    // Token exchange (RFC 8693): the ID token given for an ID-JAG (SEP-990).
    "subject_token",
    "actor_token",
    // The device flow (RFC 8628): the device code is the grant until it is
    // exchanged; the user code lets whoever holds it approve that grant.
    "device_code",
    "user_code",
    "state",
    "password",
    "private_key",
    "d",
];

/// Headers worth showing; every other header is left out.
const SHOWN_HEADERS: &[&str] = &[
    "accept",
    "content-type",
    "content-length",
    "location",
    "retry-after",
    "www-authenticate",
    "mcp-protocol-version",
    "mcp-session-id",
    "cache-control",
    "authorization",
];

/// One request and its answer, redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<String>,
    /// `None` when no answer came (the error says why).
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub ms: u64,
}

tokio::task_local! {
    static CAPTURE: Mutex<Vec<Exchange>>;
}

/// Runs `f` recording the HTTP exchanges made by this task (inside an outer
/// capture, the outer one keeps collecting).
pub async fn capture<F: Future>(f: F) -> F::Output {
    if CAPTURE.try_with(|_| ()).is_ok() {
        return f.await;
    }
    CAPTURE.scope(Mutex::new(Vec::new()), f).await
}

/// The exchanges recorded so far in this task's capture, emptying it.
pub fn take() -> Vec<Exchange> {
    CAPTURE
        .try_with(|c| std::mem::take(&mut *c.lock().unwrap_or_else(|e| e.into_inner())))
        .unwrap_or_default()
}

/// Adds exchanges recorded elsewhere (a sign-in's first half) to the current capture.
pub fn record(exchanges: impl IntoIterator<Item = Exchange>) {
    let _ = CAPTURE.try_with(|c| {
        c.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(exchanges)
    });
}

/// An [`HttpClient`] that records redacted exchanges into the current capture.
pub struct CapturingHttp {
    inner: Arc<dyn HttpClient>,
}

impl CapturingHttp {
    pub fn new(inner: Arc<dyn HttpClient>) -> Self {
        Self { inner }
    }
}

impl HttpClient for CapturingHttp {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, mcpauth_core::Result<HttpResponse>> {
        Box::pin(async move {
            if CAPTURE.try_with(|_| ()).is_err() {
                return self.inner.send(request).await;
            }
            let started = Instant::now();
            let mut exchange = redact_request(&request);
            let secrets = request_secrets(&request);
            let result = self.inner.send(request).await;
            exchange.ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok(response) => redact_response(&mut exchange, response),
                Err(e) => exchange.error = Some(e.to_string()),
            }
            scrub_exchange(&mut exchange, &secrets);
            let _ =
                CAPTURE.try_with(|c| c.lock().unwrap_or_else(|e| e.into_inner()).push(exchange));
            result
        })
    }
}

fn is_secret_name(name: &str) -> bool {
    SECRET_NAMES.iter().any(|s| s.eq_ignore_ascii_case(name))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn shown_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(n, _)| SHOWN_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(n)))
        .map(|(n, v)| {
            let v = if n.eq_ignore_ascii_case("authorization") {
                match v.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} {REDACTED}"),
                    None => REDACTED.to_string(),
                }
            } else {
                v.clone()
            };
            (n.to_ascii_lowercase(), v)
        })
        .collect()
}

/// A URL with secret query parameters replaced.
pub fn redact_url(url: &url::Url) -> String {
    if url.query().is_none() {
        return url.to_string();
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if is_secret_name(&k) {
                REDACTED.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut out = url.clone();
    out.query_pairs_mut().clear().extend_pairs(pairs);
    out.to_string().replace("%5Bredacted%5D", REDACTED)
}

/// JSON with every secret member replaced, pretty-printed.
fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_name(k) && v.is_string() {
                    *v = serde_json::Value::String(REDACTED.into());
                } else if let Some(url) = v
                    .as_str()
                    .filter(|s| s.starts_with("http") && s.contains('?'))
                    .and_then(|s| url::Url::parse(s).ok())
                {
                    // A link that carries a secret in its query (the device
                    // flow's verification_uri_complete carries the user code).
                    *v = serde_json::Value::String(redact_url(&url));
                } else {
                    redact_json(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// A body as text fit to show: JSON and forms with secrets replaced, anything
/// else only described (it could hold anything).
pub fn redact_body(body: &[u8], content_type: Option<&str>) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let kind = content_type.unwrap_or("").to_ascii_lowercase();
    let text = if let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) {
        redact_json(&mut json);
        serde_json::to_string_pretty(&json).unwrap_or_default()
    } else if kind.contains("x-www-form-urlencoded") {
        url::form_urlencoded::parse(body)
            .map(|(k, v)| {
                let v = if is_secret_name(&k) {
                    REDACTED.to_string()
                } else {
                    v.into_owned()
                };
                format!("{k}={v}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        let what = if kind.is_empty() {
            "no content type"
        } else {
            kind.as_str()
        };
        return Some(format!("({} bytes, {what}; not shown)", body.len()));
    };
    Some(if text.chars().count() > BODY_LIMIT {
        let cut: String = text.chars().take(BODY_LIMIT).collect();
        format!("{cut}\n… ({} bytes in all)", body.len())
    } else {
        text
    })
}

fn redact_request(request: &HttpRequest) -> Exchange {
    Exchange {
        method: format!("{:?}", request.method).to_ascii_uppercase(),
        url: redact_url(&request.url),
        request_headers: shown_headers(&request.headers),
        request_body: request
            .body
            .as_deref()
            .and_then(|b| redact_body(b, header(&request.headers, "content-type"))),
        status: None,
        response_headers: Vec::new(),
        response_body: None,
        error: None,
        ms: 0,
    }
}

fn redact_response(exchange: &mut Exchange, response: &HttpResponse) {
    exchange.status = Some(response.status);
    exchange.response_headers = shown_headers(&response.headers);
    exchange.response_body = redact_body(&response.body, response.header("content-type"));
}

/// Every secret value the request carried: secret form fields and JSON members,
/// secret query parameters, the credentials of its Authorization header.
fn request_secrets(request: &HttpRequest) -> Vec<String> {
    let mut out: Vec<String> = request
        .url
        .query_pairs()
        .filter(|(k, _)| is_secret_name(k))
        .map(|(_, v)| v.into_owned())
        .collect();
    if let Some(body) = request.body.as_deref() {
        out.extend(
            url::form_urlencoded::parse(body)
                .filter(|(k, _)| is_secret_name(k))
                .map(|(_, v)| v.into_owned()),
        );
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
            collect_json_secrets(&json, &mut out);
        }
    }
    if let Some(auth) = header(&request.headers, "authorization") {
        if let Some((_, credentials)) = auth.split_once(' ') {
            out.push(credentials.to_string());
            // Basic: the decoded id:secret too.
            use base64::Engine;
            if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials) {
                if let Ok(text) = String::from_utf8(decoded) {
                    if let Some((_, secret)) = text.split_once(':') {
                        out.push(secret.to_string());
                    }
                }
            }
        }
    }
    out.retain(|s| s.len() >= 8);
    out
}

fn collect_json_secrets(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if is_secret_name(k) => out.push(s.clone()),
                    other => collect_json_secrets(other, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_json_secrets(v, out)),
        _ => {}
    }
}

fn scrub(text: &mut String, secrets: &[String]) {
    for secret in secrets {
        if text.contains(secret.as_str()) {
            *text = text.replace(secret.as_str(), REDACTED);
        }
    }
}

fn scrub_exchange(exchange: &mut Exchange, secrets: &[String]) {
    scrub(&mut exchange.url, secrets);
    for text in [
        &mut exchange.request_body,
        &mut exchange.response_body,
        &mut exchange.error,
    ]
    .into_iter()
    .flatten()
    {
        scrub(text, secrets);
    }
    for (_, v) in exchange
        .request_headers
        .iter_mut()
        .chain(exchange.response_headers.iter_mut())
    {
        scrub(v, secrets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpauth_core::http::HttpRequest;

    #[test]
    fn a_token_exchange_loses_the_id_token_and_the_id_jag() {
        let url = url::Url::parse("https://idp.example/token").expect("url");
        let request = HttpRequest::post_form(
            url,
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", "eyJ-id-token-secret"),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
                ("audience", "https://as.example"),
            ],
        );
        let mut exchange = redact_request(&request);
        let response = HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"access_token":"eyJ-id-jag-secret","issued_token_type":"urn:ietf:params:oauth:token-type:id-jag"}"#.to_vec(),
        };
        redact_response(&mut exchange, &response);
        scrub_exchange(&mut exchange, &request_secrets(&request));
        let all = serde_json::to_string(&exchange).expect("json");
        assert!(!all.contains("eyJ"), "{all}");
        assert!(all.contains("audience=https://as.example"), "{all}");
    }

    #[test]
    fn requests_lose_their_secrets() {
        let url = url::Url::parse("https://as.example/token").expect("url");
        let mut request = HttpRequest::post_form(
            url,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "rt-secret-0123456789"),
                ("resource", "https://mcp.example/mcp"),
                ("client_id", "app"),
            ],
        );
        request.headers.push((
            "authorization".into(),
            "Basic YXBwOmNzLXNlY3JldC05ODc2NTQ=".into(),
        ));
        request
            .headers
            .push(("cookie".into(), "session=abcdefgh123".into()));
        let mut exchange = redact_request(&request);
        let secrets = request_secrets(&request);
        // A server that echoes everything back.
        let response = HttpResponse {
            status: 400,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("set-cookie".into(), "x=1".into()),
            ],
            body: br#"{"error":"invalid_grant","error_description":"rt-secret-0123456789 and cs-secret-987654 are bad","access_token":"at-xyz-123456789"}"#.to_vec(),
        };
        redact_response(&mut exchange, &response);
        scrub_exchange(&mut exchange, &secrets);
        let all = serde_json::to_string(&exchange).expect("json");
        for secret in [
            "rt-secret-0123456789",
            "cs-secret-987654",
            "YXBwOmNzLXNlY3JldC05ODc2NTQ=",
            "at-xyz-123456789",
            "abcdefgh123",
        ] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        assert_eq!(exchange.method, "POST");
        let body = exchange.request_body.as_deref().expect("body");
        assert!(body.contains("grant_type=refresh_token"), "{body}");
        assert!(body.contains("refresh_token=[redacted]"), "{body}");
        assert!(body.contains("resource=https://mcp.example/mcp"), "{body}");
        assert!(exchange
            .request_headers
            .contains(&("authorization".into(), "Basic [redacted]".into())));
        assert!(!exchange.request_headers.iter().any(|(n, _)| n == "cookie"));
        assert!(!exchange
            .response_headers
            .iter()
            .any(|(n, _)| n == "set-cookie"));
        assert_eq!(exchange.status, Some(400));
        let answer = exchange.response_body.as_deref().expect("answer");
        assert!(answer.contains("invalid_grant"), "{answer}");
    }

    #[test]
    fn a_device_authorization_and_its_polls_lose_their_codes() {
        let url = url::Url::parse("https://as.example/token").expect("url");
        let request = HttpRequest::post_form(
            url,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", "dc-secret-0123456789"),
                ("client_id", "app"),
            ],
        );
        let mut exchange = redact_request(&request);
        let secrets = request_secrets(&request);
        let response = HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"device_code":"dc-next-9876543210","user_code":"WDJB-MJHT","verification_uri":"https://as.example/device","verification_uri_complete":"https://as.example/device?user_code=WDJB-MJHT","expires_in":600}"#.to_vec(),
        };
        redact_response(&mut exchange, &response);
        scrub_exchange(&mut exchange, &secrets);
        let all = serde_json::to_string(&exchange).expect("json");
        for secret in ["dc-secret-0123456789", "dc-next-9876543210", "WDJB-MJHT"] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
        let answer = exchange.response_body.as_deref().expect("answer");
        assert!(answer.contains("expires_in"), "{answer}");
    }

    #[test]
    fn urls_and_opaque_bodies() {
        let url = url::Url::parse(
            "https://as.example/cb?code=abc123456789&state=s1234567890&iss=https%3A%2F%2Fas",
        )
        .expect("url");
        let shown = redact_url(&url);
        assert!(
            !shown.contains("abc123456789") && !shown.contains("s1234567890"),
            "{shown}"
        );
        assert!(
            shown.contains("code=[redacted]") && shown.contains("iss="),
            "{shown}"
        );
        assert_eq!(
            redact_body(b"<html>at-123456789</html>", Some("text/html")).as_deref(),
            Some("(25 bytes, text/html; not shown)")
        );
        let long = format!("{{\"x\":\"{}\"}}", "a".repeat(10_000));
        let shown = redact_body(long.as_bytes(), Some("application/json")).expect("body");
        assert!(
            shown.len() < 4200 && shown.ends_with("bytes in all)"),
            "{}",
            shown.len()
        );
    }

    #[tokio::test]
    async fn only_inside_a_capture() {
        assert!(take().is_empty());
        let got = capture(async {
            let inner = capture(async { 1 }).await;
            (inner, take())
        })
        .await;
        assert_eq!(got, (1, vec![]));
    }
}
