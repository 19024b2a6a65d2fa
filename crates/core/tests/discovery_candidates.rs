//! Discovery as real servers behave: a well-known candidate that answers 200
//! with the wrong thing is skipped like a 404 (SPEC §1.3, §1.5), a 2025-03-26
//! server's root metadata may name an issuer with a path on its own origin,
//! and a server that answers the probe without a token is looked at again for
//! resource metadata before it is called open.

use mcpauth_core::discovery::{discover, DiscoverOptions};
use mcpauth_core::Error;
use mcpauth_testkit::RecordingHttp;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn as_metadata(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "code_challenge_methods_supported": ["S256"],
    })
}

async fn challenge_without_metadata_url(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/mcp"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", r#"Bearer scope="read""#),
        )
        .mount(server)
        .await;
}

/// Discovery for the MCP server at `{base}/mcp`.
async fn discover_mcp(base: &str) -> mcpauth_core::Result<mcpauth_core::discovery::Discovery> {
    discover(
        &RecordingHttp::new(),
        &format!("{base}/mcp"),
        &DiscoverOptions::default(),
    )
    .await
}

fn html() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw("<!doctype html><h1>Welcome</h1>", "text/html")
}

fn requests_to<'a>(seen: &'a [Request], wanted: &str) -> Vec<&'a Request> {
    seen.iter().filter(|r| r.url.path() == wanted).collect()
}

#[tokio::test]
async fn a_resource_metadata_candidate_that_answers_html_is_skipped_for_the_next() {
    let server = MockServer::start().await;
    let base = server.uri();
    challenge_without_metadata_url(&server).await;
    // A single-page app answering every path with its index page.
    Mock::given(path("/.well-known/oauth-protected-resource/mcp"))
        .respond_with(html())
        .mount(&server)
        .await;
    Mock::given(path("/.well-known/oauth-protected-resource"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resource": format!("{base}/mcp"),
            "authorization_servers": [base],
        })))
        .mount(&server)
        .await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(as_metadata(&base)))
        .mount(&server)
        .await;
    let found = discover_mcp(&base)
        .await
        .expect("the root candidate is used");
    assert_eq!(
        found.resource_metadata_url.as_deref(),
        Some(format!("{base}/.well-known/oauth-protected-resource").as_str())
    );
    assert_eq!(found.issuer, base);
}

#[tokio::test]
async fn server_metadata_of_another_issuer_or_broken_json_is_skipped_for_the_next_candidate() {
    let server = MockServer::start().await;
    let base = server.uri();
    let issuer = format!("{base}/tenant1");
    challenge_without_metadata_url(&server).await;
    Mock::given(path("/.well-known/oauth-protected-resource/mcp"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resource": format!("{base}/mcp"),
            "authorization_servers": [issuer],
        })))
        .mount(&server)
        .await;
    // RFC 8414 path-inserted: another tenant's document (a shared proxy mix-up).
    Mock::given(path("/.well-known/oauth-authorization-server/tenant1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(as_metadata(&format!("{base}/tenant2"))),
        )
        .mount(&server)
        .await;
    // OIDC path-inserted: JSON cut short.
    Mock::given(path("/.well-known/openid-configuration/tenant1"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(r#"{"issuer": "#, "application/json"))
        .mount(&server)
        .await;
    // OIDC path-appended: this issuer's own document.
    Mock::given(path("/tenant1/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(as_metadata(&issuer)))
        .mount(&server)
        .await;
    let found = discover_mcp(&base)
        .await
        .expect("the third candidate is used");
    assert_eq!(found.issuer, issuer);
    assert_eq!(
        found.metadata_url.as_deref(),
        Some(format!("{issuer}/.well-known/openid-configuration").as_str())
    );
    // The other tenant's endpoints are nowhere in what was kept.
    assert_eq!(found.metadata.token_endpoint, format!("{issuer}/token"));
}

#[tokio::test]
async fn when_every_candidate_is_unusable_the_error_says_why_the_first_was_skipped() {
    let server = MockServer::start().await;
    let base = server.uri();
    challenge_without_metadata_url(&server).await;
    Mock::given(path("/.well-known/oauth-protected-resource/mcp"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resource": format!("{base}/mcp"),
            "authorization_servers": [base],
        })))
        .mount(&server)
        .await;
    // Every server metadata candidate is the web site's HTML.
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(html())
        .mount(&server)
        .await;
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(html())
        .mount(&server)
        .await;
    let error = discover_mcp(&base).await.expect_err("no usable metadata");
    let message = error.to_string();
    assert!(
        matches!(error, Error::InvalidJson { .. }),
        "{error:?}: {message}"
    );
    assert!(
        message.contains("text/html") && message.contains("oauth-authorization-server"),
        "the reason names the first candidate and what it was: {message}"
    );
}

#[tokio::test]
async fn a_legacy_server_whose_root_metadata_names_an_issuer_under_a_path_is_accepted() {
    let server = MockServer::start().await;
    let base = server.uri();
    let issuer = format!("{base}/oauth");
    challenge_without_metadata_url(&server).await;
    // No resource metadata at all (a 2025-03-26 server): wiremock answers 404.
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .and(header("mcp-protocol-version", "2025-03-26"))
        .respond_with(ResponseTemplate::new(200).set_body_json(as_metadata(&issuer)))
        .expect(1)
        .mount(&server)
        .await;
    let found = discover_mcp(&base).await.expect("legacy discovery");
    assert!(found.legacy);
    // The metadata's own issuer is the one the `iss` check compares with.
    assert_eq!(found.issuer, issuer);
    assert_eq!(found.metadata.issuer, issuer);
    assert_eq!(
        found.metadata.authorization_endpoint,
        format!("{issuer}/auth")
    );
}

#[tokio::test]
async fn a_legacy_server_whose_metadata_names_another_origin_is_refused() {
    let server = MockServer::start().await;
    let base = server.uri();
    challenge_without_metadata_url(&server).await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(as_metadata("https://attacker.example/oauth")),
        )
        .mount(&server)
        .await;
    let error = discover_mcp(&base).await.expect_err("a mix-up");
    assert!(matches!(error, Error::IssuerMismatch { .. }), "{error:?}");
}

/// An MCP server that answers `initialize` without a token and opens a
/// session, as SDK servers whose tools check the token do.
async fn answers_initialize_with_a_session(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/mcp"))
        .and(body_partial_json(json!({"method": "initialize"})))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("mcp-session-id", "probe-session-1")
                .set_body_json(json!({"jsonrpc": "2.0", "id": 0, "result": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "serverInfo": {"name": "lazy", "version": "1"}}})),
        )
        .mount(server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/mcp"))
        .and(header("mcp-session-id", "probe-session-1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_server_that_answers_without_a_token_but_publishes_metadata_signs_in_lazily() {
    let server = MockServer::start().await;
    let base = server.uri();
    answers_initialize_with_a_session(&server).await;
    Mock::given(path("/.well-known/oauth-protected-resource/mcp"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resource": format!("{base}/mcp"),
            "authorization_servers": [base],
            "scopes_supported": ["tools"],
        })))
        .mount(&server)
        .await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(as_metadata(&base)))
        .mount(&server)
        .await;
    let found = discover_mcp(&base)
        .await
        .expect("a lazy server is signed in to like any other");
    assert!(found.signs_in_lazily);
    assert_eq!(found.offered_scopes(), vec!["tools".to_string()]);
    // The DELETE's `expect(1)` is checked when the server drops.
}

#[tokio::test]
async fn a_server_that_answers_without_a_token_and_publishes_nothing_needs_no_sign_in() {
    let server = MockServer::start().await;
    let base = server.uri();
    answers_initialize_with_a_session(&server).await;
    let error = discover_mcp(&base).await.expect_err("an open server");
    let message = error.to_string();
    assert!(
        matches!(error, Error::NotAnOAuthMcpServer { .. }) && message.contains("needs no sign-in"),
        "{message}"
    );
    // Both resource metadata candidates were asked before saying so.
    let seen = server.received_requests().await.unwrap_or_default();
    assert_eq!(
        requests_to(&seen, "/.well-known/oauth-protected-resource/mcp").len(),
        1
    );
    assert_eq!(
        requests_to(&seen, "/.well-known/oauth-protected-resource").len(),
        1
    );
}
