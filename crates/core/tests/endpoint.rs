//! The endpoint the user gave is the endpoint used: kept as entered
//! (trailing slash included), moved only by a same-origin 307/308 of the
//! probe, and canonical only as the `resource` sent to the authorization
//! server (SPEC §3.3).

use mcpauth_core::discovery::{discover, DiscoverOptions};
use mcpauth_core::Error;
use mcpauth_testkit::RecordingHttp;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn protected(server: &MockServer, mcp_path: &str) {
    let base = server.uri();
    Mock::given(method("POST"))
        .and(path(mcp_path))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", r#"Bearer scope="read""#),
        )
        .mount(server)
        .await;
    let trimmed = mcp_path.trim_end_matches('/');
    for prm in [
        format!("/.well-known/oauth-protected-resource{trimmed}"),
        format!("/.well-known/oauth-protected-resource{mcp_path}"),
    ] {
        Mock::given(path(prm))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "resource": format!("{base}{trimmed}"),
                "authorization_servers": [base],
            })))
            .mount(server)
            .await;
    }
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/auth"),
            "token_endpoint": format!("{base}/token"),
            "code_challenge_methods_supported": ["S256"],
        })))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_trailing_slash_is_kept_for_requests_and_dropped_only_from_the_resource() {
    let server = MockServer::start().await;
    protected(&server, "/mcp/").await;
    let base = server.uri();
    let found = discover(
        &RecordingHttp::new(),
        &format!("{base}/mcp/"),
        &DiscoverOptions::default(),
    )
    .await
    .expect("discovery");
    assert_eq!(found.mcp_url, format!("{base}/mcp/"), "as entered");
    assert_eq!(found.resource, format!("{base}/mcp"), "canonical");
    let seen = server.received_requests().await.unwrap_or_default();
    let posts: Vec<_> = seen
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| r.url.path().to_string())
        .collect();
    assert!(
        !posts.is_empty() && posts.iter().all(|p| p == "/mcp/"),
        "every probe went to the URL as entered: {posts:?}"
    );
}

#[tokio::test]
async fn a_same_origin_307_of_the_probe_moves_the_endpoint() {
    let server = MockServer::start().await;
    protected(&server, "/v2/mcp").await;
    Mock::given(method("POST"))
        .and(path("/mcp"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/v2/mcp"))
        .expect(1)
        .mount(&server)
        .await;
    let base = server.uri();
    let found = discover(
        &RecordingHttp::new(),
        &format!("{base}/mcp"),
        &DiscoverOptions::default(),
    )
    .await
    .expect("discovery follows the move");
    assert_eq!(found.mcp_url, format!("{base}/v2/mcp"));
    assert_eq!(found.resource, format!("{base}/v2/mcp"));
}

#[tokio::test]
async fn a_probe_redirect_to_another_origin_is_refused_and_not_followed() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/mcp"))
        .respond_with(
            ResponseTemplate::new(308)
                .insert_header("location", format!("{}/mcp", elsewhere.uri())),
        )
        .mount(&server)
        .await;
    let error = discover(
        &RecordingHttp::new(),
        &format!("{}/mcp", server.uri()),
        &DiscoverOptions::default(),
    )
    .await
    .expect_err("cross-origin");
    assert!(
        matches!(error, Error::UnexpectedRedirect { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("another origin"), "{error}");
    let reached = elsewhere.received_requests().await.unwrap_or_default();
    assert!(reached.is_empty(), "nothing was sent to the other origin");
}

#[tokio::test]
async fn a_server_that_is_not_running_gets_an_error_that_says_what_to_check() {
    // Port 1 on loopback: nothing listens there, so the connection is refused.
    let http = mcpauth_core::http::ReqwestHttp::new().expect("client");
    let error = discover(&http, "http://127.0.0.1:1/mcp", &DiscoverOptions::default())
        .await
        .expect_err("nothing answers");
    let text = error.to_string();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(
        text.contains("cannot reach 127.0.0.1:1: is the server running? Check the URL"),
        "{text}"
    );
}

#[tokio::test]
async fn a_url_that_is_not_an_mcp_server_gets_what_was_found_and_what_an_mcp_url_looks_like() {
    // A web site: every request form gets 404 (no MCP endpoint at this path).
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"))
        .mount(&server)
        .await;
    let http = RecordingHttp::new();
    let error = discover(
        &http,
        &format!("{}/docs", server.uri()),
        &DiscoverOptions::default(),
    )
    .await
    .expect_err("not an MCP server");
    let text = error.to_string();
    assert!(
        matches!(error, Error::NotAnOAuthMcpServer { .. }),
        "{error:?}"
    );
    assert!(
        text.contains("HTTP 404") && text.contains("nothing is at this path"),
        "{text}"
    );
    assert!(
        text.contains("such as https://mcp.example.com/mcp"),
        "{text}"
    );
    // Nothing but the probe's forms went there: no metadata, no authorization server.
    let urls = http.urls();
    assert!(
        !urls.is_empty() && urls.iter().all(|u| u.ends_with("/docs")),
        "{urls:?}"
    );
}
