//! The fuzz targets' bodies, shared by `cargo fuzz` (fuzz/fuzz_targets/*) and by
//! the corpus replay test that CI runs on stable (crates/vault/tests/fuzz_corpus.rs).
//! Each function takes raw fuzzer bytes, drives one parser the way a hostile
//! peer could, and panics when an invariant breaks: no panic inside our code,
//! no secret in an error, nothing accepted that SPEC.md says to refuse.
#![allow(dead_code)]

use std::sync::Mutex;

use futures::future::BoxFuture;
use mcpauth_core::callback::{CallbackParams, PendingStore};
use mcpauth_core::challenge::bearer_challenges;
use mcpauth_core::discovery::{discover, DiscoverOptions};
use mcpauth_core::http::{ensure_secure, HttpClient, HttpRequest, HttpResponse};
use mcpauth_core::metadata::AuthorizationServerMetadata;
use mcpauth_core::registration::{ClientAuth, ClientRegistration};
use mcpauth_core::secret::{ClientSecret, RefreshToken};
use mcpauth_core::token::MAX_EXPIRES_IN;
use mcpauth_vault::export::{apply, Entry, Target};
use mcpauth_vault::links::{parse_deep_link, DeepLink};

/// The secrets the fuzzed code holds; none may show in an error or a request URL.
pub const REFRESH_SECRET: &str = "fuzz-refresh-6b1f0a9e2c";
pub const CLIENT_SECRET: &str = "fuzz-client-secret-9d3e77";

/// Splits fuzzer input on NUL into at most `n` parts (missing parts are empty).
fn parts(data: &[u8], n: usize) -> Vec<String> {
    let mut out: Vec<String> = data
        .splitn(n, |b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    out.resize(n, String::new());
    out
}

/// Panics if `text` holds a string of `needles` (only those long enough to mean something).
fn assert_absent(text: &str, needles: &[&str], context: &str) {
    for needle in needles.iter().filter(|n| n.len() >= 8) {
        assert!(
            !text.contains(needle),
            "a secret showed in {context}: {text}"
        );
    }
}

/// `WWW-Authenticate` values, one per line, as several headers.
pub fn www_authenticate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let challenges = bearer_challenges(text.lines());
    for c in &challenges {
        // A parameter the parser hands out is a value the header really held.
        for value in [&c.resource_metadata, &c.scope, &c.error]
            .into_iter()
            .flatten()
        {
            assert!(value.len() <= text.len(), "a value longer than its header");
        }
        let _ = c.is_insufficient_scope();
    }
    // One header with every line joined by commas parses to at least as many Bearer challenges
    // whenever each line was a clean challenge on its own; at least it must not panic.
    let joined = text.lines().collect::<Vec<_>>().join(", ");
    let _ = bearer_challenges([joined.as_str()]);
}

/// A scripted HTTP peer: answers by URL from fuzzer text, records every request.
struct Scripted {
    answers: Vec<(String, HttpResponse)>,
    seen: Mutex<Vec<HttpRequest>>,
}

impl HttpClient for Scripted {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, mcpauth_core::Result<HttpResponse>> {
        let url = request.url.to_string();
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request);
        let answer = self
            .answers
            .iter()
            .find(|(prefix, _)| url.starts_with(prefix.as_str()))
            .map(|(_, r)| r.clone())
            .unwrap_or(HttpResponse {
                status: 404,
                headers: vec![],
                body: b"not found".to_vec(),
            });
        Box::pin(async move { Ok(answer) })
    }
}

fn json_response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// Discovery against a server whose challenge, protected resource metadata and
/// authorization server metadata are fuzzer text.
pub fn discovery_documents(data: &[u8]) {
    let p = parts(data, 3);
    let mcp = "https://mcp.example/mcp";
    let mut challenge = p[0].replace(['\r', '\n'], " ");
    if challenge.is_empty() {
        challenge =
            "Bearer resource_metadata=\"https://mcp.example/.well-known/oauth-protected-resource/mcp\""
                .into();
    }
    let http = Scripted {
        answers: vec![
            (
                mcp.into(),
                HttpResponse {
                    status: 401,
                    headers: vec![("www-authenticate".into(), challenge)],
                    body: vec![],
                },
            ),
            (
                "https://mcp.example/.well-known/oauth-protected-resource".into(),
                json_response(200, &p[1]),
            ),
            (
                "https://auth.example/.well-known/".into(),
                json_response(200, &p[2]),
            ),
        ],
        seen: Mutex::new(Vec::new()),
    };
    let result = futures::executor::block_on(discover(&http, mcp, &DiscoverOptions::default()));
    for request in http.seen.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        assert!(
            request.url.scheme() == "https",
            "discovery sent a request over plain http to a public host: {}",
            request.url
        );
    }
    if let Ok(found) = result {
        // Nothing unsafe comes out of a discovery that succeeded.
        assert!(
            found.metadata.supports_s256(),
            "accepted metadata without S256"
        );
        let endpoint = url::Url::parse(&found.metadata.authorization_endpoint)
            .expect("an accepted authorization endpoint parses");
        ensure_secure("authorization endpoint", &endpoint).expect("accepted endpoint is secure");
        let token = url::Url::parse(&found.metadata.token_endpoint)
            .expect("an accepted token endpoint parses");
        ensure_secure("token endpoint", &token).expect("accepted token endpoint is secure");
        assert_eq!(
            found.issuer, found.metadata.issuer,
            "issuer differs from the metadata's"
        );
        if !found.legacy {
            // Compared as origins: a scheme or host in another case is the same
            // server (RFC 3986 §6.2.2.1), and the value is sent as published.
            let origin = url::Url::parse(&found.resource).map(|u| u.origin());
            assert_eq!(
                origin.ok(),
                url::Url::parse("https://mcp.example/")
                    .ok()
                    .map(|u| u.origin()),
                "accepted a resource document for another origin: {}",
                found.resource
            );
        }
    }
}

/// The token endpoint answering a refresh with fuzzer status, headers and body.
pub fn token_response(data: &[u8]) {
    let (selector, rest) = data.split_first().unwrap_or((&0, &[]));
    let status = [200u16, 400, 401, 429, 503, 500, 302, 201][(*selector & 7) as usize];
    let p = parts(rest, 2);
    let mut metadata = AuthorizationServerMetadata::legacy_defaults("https://auth.example");
    metadata.token_endpoint = "https://auth.example/token".into();
    let client = ClientRegistration::pre_registered(
        "https://auth.example",
        "fuzz-client",
        if selector & 8 == 0 {
            ClientAuth::SecretBasic(ClientSecret::new(CLIENT_SECRET))
        } else {
            ClientAuth::SecretPost(ClientSecret::new(CLIENT_SECRET))
        },
    );
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    for line in p[0].lines().take(8) {
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let http = Scripted {
        answers: vec![(
            "https://auth.example/token".into(),
            HttpResponse {
                status,
                headers,
                body: p[1].as_bytes().to_vec(),
            },
        )],
        seen: Mutex::new(Vec::new()),
    };
    let refresh = RefreshToken::new(REFRESH_SECRET);
    let result = futures::executor::block_on(mcpauth_core::token::refresh(
        &http,
        &metadata,
        &client,
        &refresh,
        "https://mcp.example/mcp",
        None,
    ));
    let seen = http.seen.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(seen.len(), 1, "one request, no redirect followed");
    assert_absent(
        seen[0].url.as_str(),
        &[REFRESH_SECRET, CLIENT_SECRET],
        "a URL",
    );
    // Tokens the hostile body carried must not be echoed either.
    let mut body_tokens = Vec::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&p[1]) {
        for key in ["access_token", "refresh_token", "id_token"] {
            // A value that reads like a word (`access_token`) would match our own
            // field names in Debug output: only token-like values count.
            if let Some(serde_json::Value::String(s)) = map.get(key) {
                if s.len() >= 12 && !s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                    body_tokens.push(s.clone());
                }
            }
        }
    }
    let mut needles = vec![REFRESH_SECRET, CLIENT_SECRET];
    needles.extend(body_tokens.iter().map(String::as_str));
    match result {
        Ok(tokens) => {
            assert!(
                status == 200 || status == 201,
                "accepted tokens from HTTP {status}"
            );
            assert!(
                !tokens.access_token.secret().is_empty(),
                "accepted an empty access token"
            );
            assert!(
                tokens.expires_in.is_none_or(|s| s <= MAX_EXPIRES_IN),
                "expiry not clamped"
            );
            assert_eq!(tokens.token_type, "Bearer");
            assert_absent(
                &format!("{tokens:?}"),
                &needles,
                "Debug output of the tokens",
            );
        }
        Err(e) => {
            assert_absent(&e.to_string(), &needles, "an error message");
            assert_absent(&format!("{e:?}"), &needles, "an error's Debug output");
        }
    }
}

/// An authorization response URL against one pending sign-in.
pub fn callback_url(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let metadata = {
        let mut m = AuthorizationServerMetadata::legacy_defaults("https://auth.example");
        m.authorization_response_iss_parameter_supported = data.first().is_some_and(|b| b & 1 == 1);
        m
    };
    let client = ClientRegistration::pre_registered("https://auth.example", "c", ClientAuth::None);
    let request = mcpauth_core::authorize::AuthorizationRequest {
        resource: "https://mcp.example/mcp".into(),
        scopes: None,
        redirect_uri: "http://127.0.0.1:9/callback".into(),
        prompt: None,
    };
    let (_, pending) = mcpauth_core::authorize::start_authorization(&metadata, &client, &request)
        .expect("a pending sign-in");
    let state = pending.state.secret().to_string();
    let iss_required = pending.iss_required;
    let store = PendingStore::default();
    store.insert(pending);
    let Ok(params) = CallbackParams::from_redirect_url(&text) else {
        return;
    };
    let claimed_state = params.state.clone();
    let claimed_iss = params.iss.clone();
    let had_error = params.error.is_some();
    match store.complete(params) {
        Ok((_, code)) => {
            // Only the real state (which the fuzzer cannot know), the right issuer, no error.
            assert_eq!(claimed_state.as_deref(), Some(state.as_str()));
            assert!(claimed_iss
                .as_deref()
                .is_none_or(|i| i == "https://auth.example"));
            assert!(!iss_required || claimed_iss.is_some());
            assert!(!had_error);
            let _ = code;
        }
        Err(e) => assert_absent(&e.to_string(), &[&state], "a callback error"),
    }
    // Whatever happened, the same state can never complete twice.
    assert!(store.is_empty() || claimed_state.as_deref() != Some(state.as_str()));
}

/// The `mcpauth://` link parser.
pub fn deep_link(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_deep_link(&text) {
        DeepLink::Callback(url) => {
            let parsed = url::Url::parse(&url).expect("a callback URL parses");
            assert_eq!(parsed.scheme(), "mcpauth");
            assert_eq!(parsed.as_str(), url, "a callback is handed on as parsed");
        }
        DeepLink::SignIn { url, scopes } => {
            let parsed = url::Url::parse(&url).expect("a sign-in URL parses");
            assert!(matches!(parsed.scheme(), "http" | "https"));
            assert!(parsed.username().is_empty() && parsed.password().is_none());
            for s in &scopes {
                assert!(
                    !s.is_empty() && !s.contains([' ', '"', '\\']),
                    "bad scope {s:?}"
                );
            }
        }
        DeepLink::Unknown(why) => assert!(!why.is_empty() && why.len() < 200),
    }
}

/// The export editors: any existing config text, for every target.
pub fn export_jsonc(data: &[u8]) {
    let (selector, rest) = data.split_first().unwrap_or((&0, &[]));
    let target = Target::ALL[(*selector as usize) % Target::ALL.len()];
    let existing = String::from_utf8_lossy(rest);
    let entry = Entry {
        name: if selector & 0x80 == 0 {
            "fuzz-server".into()
        } else {
            "with \"quotes\" \\ and\nnewline".into()
        },
        account: "acct1".into(),
        server_url: "https://mcp.example/mcp".into(),
        command: "/usr/bin/mcpauth".into(),
        proxy_only: selector & 0x40 != 0,
    };
    let Ok(first) = apply(target, Some(&existing), &entry) else {
        return;
    };
    // What we wrote parses, holds the entry, and a second export changes nothing.
    // (The user's own values are kept as written: a number JSON allows but f64
    // cannot hold stays, so the full check needs input that converts.)
    let strip = |t: &str| t.strip_prefix('\u{feff}').unwrap_or(t).to_string();
    let convertible = strip(&existing).trim().is_empty()
        || jsonc_parser::parse_to_serde_value::<serde_json::Value>(
            &strip(&existing),
            &Default::default(),
        )
        .is_ok();
    if convertible {
        let value = jsonc_parser::parse_to_serde_value::<serde_json::Value>(
            &strip(&first),
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("the export wrote a file that does not parse: {e}\n{first}"));
        let written = value
            .get(target.container_key())
            .and_then(|c| c.get(&entry.name))
            .unwrap_or_else(|| panic!("the entry is missing from\n{first}"));
        assert!(
            written.to_string().contains("acct1"),
            "the entry names the account"
        );
    } else {
        assert!(
            jsonc_parser::cst::CstRootNode::parse(&strip(&first), &Default::default()).is_ok(),
            "the export wrote text that does not parse:\n{first}"
        );
    }
    let second = apply(target, Some(&first), &entry).expect("a second export of our own output");
    assert_eq!(first, second, "exporting twice changed the file");
}
