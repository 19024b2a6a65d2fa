//! The HTTP client the engine is given, and the rules every request follows:
//! no automatic redirects, a body cap, timeouts, and https for
//! authorization-server endpoints except on loopback.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Error, Result};

/// The largest response body the engine reads (SPEC §5.3).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// How many same-origin redirects a metadata request may follow (SPEC §5.2).
pub const METADATA_REDIRECT_LIMIT: usize = 3;

/// An HTTP method the engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

/// One HTTP request. `Debug` shows header names and the body length only, because
/// headers and bodies carry tokens, codes, verifiers and client secrets.
#[derive(Clone)]
pub struct HttpRequest {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// False to stop once the status and headers have arrived (an event stream
    /// the engine only probes); the answer's body is then empty.
    pub read_body: bool,
}

impl HttpRequest {
    /// A GET request with no headers.
    pub fn get(url: Url) -> Self {
        Self {
            method: Method::Get,
            url,
            headers: Vec::new(),
            body: None,
            read_body: true,
        }
    }

    /// A POST with an `application/x-www-form-urlencoded` body.
    pub fn post_form(url: Url, fields: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        Self {
            method: Method::Post,
            url,
            headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("accept".into(), "application/json".into()),
            ],
            body: Some(body.into_bytes()),
            read_body: true,
        }
    }

    /// A POST with a JSON body.
    pub fn post_json(url: Url, value: &serde_json::Value) -> Self {
        Self {
            method: Method::Post,
            url,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("accept".into(), "application/json".into()),
            ],
            body: Some(value.to_string().into_bytes()),
            read_body: true,
        }
    }

    /// A DELETE with no body (closing an MCP session).
    pub fn delete(url: Url) -> Self {
        Self {
            method: Method::Delete,
            ..Self::get(url)
        }
    }

    /// Sets a header, replacing any earlier value of the same name (a request
    /// never needs two, and servers read a repeated `Accept` differently).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }

    /// Stops at the status and headers: the body is not read.
    pub fn headers_only(mut self) -> Self {
        self.read_body = false;
        self
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("header_names", &names)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// One HTTP response, body already read within the cap.
#[derive(Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, by case-insensitive name.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// True for 3xx.
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The HTTP client the engine runs on. Production uses [`ReqwestHttp`]; tests may
/// hand in anything that records requests and returns canned answers.
pub trait HttpClient: Send + Sync {
    /// Sends one request. Implementations must not follow redirects, must cap the body
    /// and must time out.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>>;
}

/// Limits for [`ReqwestHttp`].
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    pub body_limit: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

/// reqwest with rustls, redirects off, a body cap and timeouts.
#[derive(Clone)]
pub struct ReqwestHttp {
    client: reqwest::Client,
    limits: HttpLimits,
}

impl ReqwestHttp {
    /// A client with the default limits.
    pub fn new() -> Result<Self> {
        Self::with_limits(HttpLimits::default())
    }

    /// A client with the given limits. It trusts the system's certificate
    /// store, the compiled-in roots and the extra CA file, if one is set
    /// (crate::network), and uses the proxy the environment names.
    pub fn with_limits(limits: HttpLimits) -> Result<Self> {
        Self::with_extra_roots(limits, &[])
    }

    /// A client that also trusts the given PEM root certificates (tests, private CAs).
    pub fn with_extra_roots(limits: HttpLimits, pem_roots: &[&str]) -> Result<Self> {
        let mut builder = crate::network::client_builder()?;
        for pem in pem_roots {
            let cert =
                reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| Error::Transport {
                    url: "(certificate)".into(),
                    message: format!("bad root certificate: {e}"),
                })?;
            builder = builder.add_root_certificate(cert);
        }
        Self::build(builder, limits)
    }

    fn build(builder: reqwest::ClientBuilder, limits: HttpLimits) -> Result<Self> {
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.total_timeout)
            .user_agent(concat!("mcpauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Transport {
                url: "(client)".into(),
                message: e.to_string(),
            })?;
        Ok(Self { client, limits })
    }

    async fn execute(&self, request: HttpRequest) -> Result<HttpResponse> {
        let url = request.url.to_string();
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.client.request(method, request.url.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let response = builder.send().await.map_err(|e| self.map_error(&url, e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        if !request.read_body {
            return Ok(HttpResponse {
                status,
                headers,
                body: Vec::new(),
            });
        }
        if let Some(len) = response.content_length() {
            if len > self.limits.body_limit as u64 {
                return Err(Error::BodyTooLarge {
                    url,
                    limit: self.limits.body_limit,
                });
            }
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.map_error(&url, e))?;
            if body.len() + chunk.len() > self.limits.body_limit {
                return Err(Error::BodyTooLarge {
                    url,
                    limit: self.limits.body_limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    fn map_error(&self, url: &str, error: reqwest::Error) -> Error {
        if error.is_timeout() {
            Error::Timeout {
                url: url.to_string(),
                seconds: self.limits.total_timeout.as_secs().max(1),
            }
        } else {
            // reqwest's message names the URL and the cause; the URLs we request carry no secrets.
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            if let Some(hint) = crate::network::certificate_hint(&message) {
                message.push_str(" — ");
                message.push_str(&hint);
            } else if error.is_connect() {
                // Refused, unreachable or unresolvable: say what to check.
                let parsed = Url::parse(url).ok();
                let host = parsed
                    .as_ref()
                    .and_then(Url::host_str)
                    .unwrap_or("the host");
                let port = parsed
                    .as_ref()
                    .and_then(Url::port_or_known_default)
                    .map(|p| format!(":{p}"))
                    .unwrap_or_default();
                message.push_str(&format!(
                    " — cannot reach {host}{port}: is the server running? Check the URL"
                ));
            }
            Error::Transport {
                url: url.to_string(),
                message,
            }
        }
    }
}

impl HttpClient for ReqwestHttp {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>> {
        Box::pin(self.execute(request))
    }
}

/// True for 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// SPEC §5.1: https, or http on a loopback host.
pub fn ensure_secure(what: &'static str, url: &Url) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(url) => Ok(()),
        _ => Err(Error::InsecureUrl {
            what,
            url: url.to_string(),
        }),
    }
}

/// Parses a URL and checks it with [`ensure_secure`].
pub fn parse_secure(what: &'static str, input: &str) -> Result<Url> {
    let url = parse_url(input)?;
    ensure_secure(what, &url)?;
    Ok(url)
}

/// Parses an absolute http(s) URL.
pub fn parse_url(input: &str) -> Result<Url> {
    let url = Url::parse(input).map_err(|e| Error::InvalidUrl {
        input: input.to_string(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidUrl {
            input: input.to_string(),
            reason: "only http and https URLs are supported".into(),
        });
    }
    if url.host().is_none() {
        return Err(Error::InvalidUrl {
            input: input.to_string(),
            reason: "the URL has no host".into(),
        });
    }
    Ok(url)
}

/// Parses a JSON body, naming the URL and the field path on failure (SPEC §5.3).
pub fn parse_json<T: DeserializeOwned>(
    url: &Url,
    document: &'static str,
    body: &[u8],
) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e
            .path()
            .iter()
            .map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } if is_field_name(key) => {
                    format!(".{key}")
                }
                serde_path_to_error::Segment::Map { .. } => ".<key>".to_string(),
                serde_path_to_error::Segment::Seq { index } => format!("[{index}]"),
                serde_path_to_error::Segment::Enum { variant } if is_field_name(variant) => {
                    format!(".{variant}")
                }
                _ => ".?".to_string(),
            })
            .collect::<String>();
        let path = path.strip_prefix('.').unwrap_or(&path);
        Error::InvalidJson {
            url: url.to_string(),
            document,
            path: if path.is_empty() {
                ".".into()
            } else {
                path.into()
            },
            message: quiet_serde_message(&e.into_inner().to_string()),
        }
    })
}

/// True for names like the ones OAuth and MCP documents use (`token_endpoint`):
/// a key the server made up, which could hold anything, is not repeated.
fn is_field_name(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 48
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || (b == b'-' && key.len() <= 24))
}

/// A serde message without the values it quotes (`invalid type: string "…"`): a
/// server's value may be anything, a token included.
fn quiet_serde_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest.as_bytes()[start] as char;
        let Some(len) = rest[start + 1..].find(quote) else {
            break;
        };
        let inner = &rest[start + 1..start + 1 + len];
        out.push_str(&rest[..=start]);
        if is_field_name(inner) {
            out.push_str(inner);
        } else {
            out.push('…');
        }
        out.push(quote);
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// GET a metadata document, following at most a few same-origin redirects (SPEC §5.2).
pub async fn get_metadata(http: &dyn HttpClient, url: &Url) -> Result<(Url, HttpResponse)> {
    get_metadata_with(http, url, &[]).await
}

/// [`get_metadata`] with extra request headers.
pub async fn get_metadata_with(
    http: &dyn HttpClient,
    url: &Url,
    headers: &[(&str, &str)],
) -> Result<(Url, HttpResponse)> {
    let build = |current: &Url| {
        let mut request = HttpRequest::get(current.clone()).header("accept", "application/json");
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        request
    };
    send_following(
        http,
        url,
        build,
        |status| (300..400).contains(&status),
        "metadata redirects may not leave the server's origin",
    )
    .await
}

/// Sends `build(url)`, and again to each `Location` of an answer whose status
/// `follows` accepts, at most [`METADATA_REDIRECT_LIMIT`] times and only on
/// the origin first asked (`leaving` says why another is refused); returns
/// the URL that answered with its answer.
pub async fn send_following(
    http: &dyn HttpClient,
    url: &Url,
    build: impl Fn(&Url) -> HttpRequest,
    follows: fn(u16) -> bool,
    leaving: &'static str,
) -> Result<(Url, HttpResponse)> {
    let mut current = url.clone();
    for _ in 0..=METADATA_REDIRECT_LIMIT {
        let response = http.send(build(&current)).await?;
        if !follows(response.status) {
            return Ok((current, response));
        }
        let location = response.header("location").unwrap_or_default().to_string();
        let next = current
            .join(&location)
            .map_err(|_| Error::UnexpectedRedirect {
                url: current.to_string(),
                location: location.clone(),
                why: "the Location header is not a valid URL",
            })?;
        if next.origin() != url.origin() {
            return Err(Error::UnexpectedRedirect {
                url: current.to_string(),
                location,
                why: leaving,
            });
        }
        current = next;
    }
    Err(Error::UnexpectedRedirect {
        url: url.to_string(),
        location: current.to_string(),
        why: "too many redirects",
    })
}

/// Refuses a 3xx answer on requests that must never be redirected (SPEC §5.2).
pub fn refuse_redirect(url: &Url, response: &HttpResponse) -> Result<()> {
    if response.is_redirect() {
        return Err(Error::UnexpectedRedirect {
            url: url.to_string(),
            location: response.header("location").unwrap_or_default().to_string(),
            why: "redirects are never followed on token, registration and revocation requests",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_errors_never_repeat_what_the_server_sent() {
        let url = Url::parse("https://as.example/token").expect("url");
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            expires_in: u64,
        }
        // A made-up key holding the broken value, and a quoted wrong value.
        let e = parse_json::<Doc>(&url, "doc", br#"{"Secret-Like-Key-123": {"x": "#)
            .expect_err("broken");
        let text = e.to_string();
        assert!(!text.contains("Secret-Like-Key-123"), "{text}");
        let e = parse_json::<Doc>(&url, "doc", br#"{"expires_in": "tok-abc123-secret"}"#)
            .expect_err("type");
        let text = e.to_string();
        assert!(
            text.contains("expires_in") && !text.contains("tok-abc123-secret"),
            "{text}"
        );
        let e = parse_json::<Doc>(&url, "doc", b"{}").expect_err("missing");
        assert!(e.to_string().contains("missing field `expires_in`"), "{e}");
    }

    #[test]
    fn scrub_takes_sent_secrets_out_of_server_text() {
        let e = Error::TokenRefused {
            grant: "refresh_token",
            status: 400,
            response: crate::OAuthErrorResponse {
                error: "invalid_grant".into(),
                error_description: Some("token rt-0123456789 is gone".into()),
                error_uri: None,
            },
        }
        .scrub(&["rt-0123456789", "short"]);
        let text = e.to_string();
        assert!(
            !text.contains("rt-0123456789") && text.contains("[redacted]"),
            "{text}"
        );
    }

    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in [
            "http://127.0.0.1:8080/x",
            "http://127.9.9.9/",
            "http://[::1]:9/",
            "http://LOCALHOST/",
            "https://example.com/",
        ] {
            let url = Url::parse(ok).expect("test URL");
            assert!(ensure_secure("endpoint", &url).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/",
            "http://10.0.0.1/",
            "http://localhost.evil.com/",
            "ftp://127.0.0.1/",
        ] {
            let url = Url::parse(bad).expect("test URL");
            assert!(
                matches!(
                    ensure_secure("endpoint", &url),
                    Err(Error::InsecureUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn request_debug_hides_headers_and_body() {
        let url = Url::parse("https://as.example/token").expect("test URL");
        let request = HttpRequest::post_form(url, &[("code_verifier", "very-secret")])
            .header("authorization", "Basic c2VjcmV0");
        let debug = format!("{request:?}");
        assert!(!debug.contains("very-secret"));
        assert!(!debug.contains("c2VjcmV0"));
        assert!(debug.contains("authorization"));
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Doc {
            inner: Inner,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            n: u32,
        }
        let url = Url::parse("https://as.example/doc").expect("test URL");
        let err = parse_json::<Doc>(&url, "test document", br#"{"inner":{"n":"x"}}"#)
            .expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains("inner.n"), "{text}");
        assert!(text.contains("https://as.example/doc"), "{text}");
    }
}
