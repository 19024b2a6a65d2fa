//! Discovery against a server that delays every answer: the candidates of one
//! step are fetched together, so the total is about one delay per dependent
//! step (probe, resource metadata, server metadata), and the document chosen is
//! still the first in the specification's order, even when a later candidate
//! answers first.

use std::time::{Duration, Instant};

use mcpauth_core::discovery::{discover, DiscoverOptions};
use mcpauth_testkit::RecordingHttp;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DELAY: Duration = Duration::from_millis(600);

#[tokio::test]
async fn candidates_are_fetched_concurrently_and_chosen_in_order() {
    let server = MockServer::start().await;
    let base = server.uri();
    let issuer = format!("{base}/tenant1");
    let delayed = |t: ResponseTemplate| t.set_delay(DELAY);
    // Step 1: the probe; the challenge has no resource_metadata, so step 2 walks the candidates.
    Mock::given(method("POST"))
        .and(path("/v1/mcp"))
        .respond_with(delayed(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", r#"Bearer scope="mcp:read""#),
        ))
        .mount(&server)
        .await;
    // Step 2: both PRM candidates exist; the path-aware one must win although it is slower.
    Mock::given(path("/.well-known/oauth-protected-resource/v1/mcp"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(DELAY + Duration::from_millis(200))
                .set_body_json(json!({
                    "resource": format!("{base}/v1/mcp"),
                    "authorization_servers": [issuer],
                    "scopes_supported": ["path-aware"],
                })),
        )
        .mount(&server)
        .await;
    Mock::given(path("/.well-known/oauth-protected-resource"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resource": format!("{base}/v1/mcp"),
            "authorization_servers": ["https://wrong.example"],
            "scopes_supported": ["root"],
        })))
        .mount(&server)
        .await;
    // Step 3: the first candidate is missing, the second is slow, the third is fast:
    // the second must win.
    let metadata = |marker: &str| {
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": [marker],
        })
    };
    Mock::given(path("/.well-known/oauth-authorization-server/tenant1"))
        .respond_with(delayed(ResponseTemplate::new(404)))
        .mount(&server)
        .await;
    Mock::given(path("/.well-known/openid-configuration/tenant1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(DELAY + Duration::from_millis(200))
                .set_body_json(metadata("second")),
        )
        .mount(&server)
        .await;
    Mock::given(path("/tenant1/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata("third")))
        .mount(&server)
        .await;

    let http = RecordingHttp::new();
    let started = Instant::now();
    let found = discover(
        &http,
        &format!("{base}/v1/mcp"),
        &DiscoverOptions::default(),
    )
    .await
    .expect("discovers");
    let elapsed = started.elapsed();

    assert_eq!(
        found
            .resource_metadata
            .as_ref()
            .and_then(|p| p.scopes_supported.clone()),
        Some(vec!["path-aware".to_string()])
    );
    assert_eq!(found.issuer, issuer);
    assert_eq!(
        found.metadata.scopes_supported,
        Some(vec!["second".to_string()])
    );
    assert_eq!(
        found.metadata_url.as_deref(),
        Some(&*format!("{base}/.well-known/openid-configuration/tenant1"))
    );
    // Every candidate was asked, the root well-known URLs never (the issuer has a path).
    let urls = http.urls();
    assert_eq!(urls.len(), 6, "{urls:?}");
    for root in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        assert!(!urls.contains(&format!("{base}{root}")), "{urls:?}");
    }

    // Three dependent steps: probe (DELAY) + PRM (DELAY+200ms) + metadata (DELAY+200ms) = 2.2 s.
    // Fetched one by one, the same answers would take 4.2 s; allow CI noise between the two.
    let one_per_step = DELAY * 3 + Duration::from_millis(400);
    let sequential = DELAY * 5 + Duration::from_millis(400) + DELAY;
    assert!(elapsed >= one_per_step, "{elapsed:?}");
    assert!(
        elapsed < one_per_step + (sequential - one_per_step) / 2,
        "took {elapsed:?}: candidates were not fetched concurrently"
    );
}
