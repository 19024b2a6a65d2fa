//! Every rejection of SPEC.md against mock servers that misbehave in ways no
//! real server can be made to: each gives a typed error naming the cause, and
//! nothing is sent onward.

use std::time::{Duration, Instant};

use mcpauth_core::authorize::{start_authorization, AuthorizationRequest};
use mcpauth_core::callback::{CallbackParams, PendingStore};
use mcpauth_core::discovery::{discover, DiscoverOptions};
use mcpauth_core::error::{Error, StateProblem};
use mcpauth_core::flow::finish_authorization;
use mcpauth_core::http::{HttpLimits, DEFAULT_BODY_LIMIT};
use mcpauth_core::metadata::AuthorizationServerMetadata;
use mcpauth_core::registration::{
    obtain_client, ClientAuth, ClientRegistration, RegistrationRequest,
};
use mcpauth_core::scopes::Scopes;
use mcpauth_core::secret::{ClientSecret, RefreshToken};
use mcpauth_core::token::{refresh, upgrade_by_refresh, RefreshUpgrade};
use mcpauth_testkit::RecordingHttp;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn as_metadata(base: &str) -> Value {
    json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "revocation_endpoint": format!("{base}/revoke"),
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["mcp:read", "mcp:write", "offline_access"],
    })
}

/// An MCP server at `/mcp` whose challenge points at its PRM, with the PRM naming `issuer`.
async fn mount_resource(server: &MockServer, resource: &str, issuer: &str) {
    let base = server.uri();
    Mock::given(method("POST"))
        .and(path("/mcp"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "www-authenticate",
            format!(
                r#"Bearer resource_metadata="{base}/.well-known/oauth-protected-resource/mcp", scope="mcp:read""#
            )
            .as_str(),
        ))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-protected-resource/mcp"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resource": resource,
            "authorization_servers": [issuer],
        })))
        .mount(server)
        .await;
}

async fn expect_untouched(server: &MockServer, route: &str) {
    Mock::given(path(route.to_string()))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .named(format!("{route} must not be called"))
        .mount(server)
        .await;
}

#[tokio::test]
async fn resource_metadata_for_another_resource_stops_before_the_authorization_server() {
    let mcp = MockServer::start().await;
    let auth = MockServer::start().await;
    mount_resource(&mcp, "https://other.example/mcp", &auth.uri()).await;
    let http = RecordingHttp::new();
    let err = discover(
        &http,
        &format!("{}/mcp", mcp.uri()),
        &DiscoverOptions::default(),
    )
    .await
    .expect_err("mismatch");
    assert!(matches!(err, Error::ResourceMismatch { .. }), "{err}");
    assert!(err.to_string().contains("https://other.example/mcp"));
    assert!(auth
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty());
    assert!(!http.sent_to(&auth.uri()));
}

#[tokio::test]
async fn metadata_with_another_issuer_is_rejected() {
    let mcp = MockServer::start().await;
    let auth = MockServer::start().await;
    mount_resource(&mcp, &format!("{}/mcp", mcp.uri()), &auth.uri()).await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(as_metadata("https://evil.example")))
        .mount(&auth)
        .await;
    expect_untouched(&auth, "/register").await;
    expect_untouched(&auth, "/authorize").await;
    let err = discover(
        &RecordingHttp::new(),
        &format!("{}/mcp", mcp.uri()),
        &DiscoverOptions::default(),
    )
    .await
    .expect_err("issuer mismatch");
    match err {
        Error::IssuerMismatch {
            expected, found, ..
        } => {
            assert_eq!(expected, auth.uri());
            assert_eq!(found, "https://evil.example");
        }
        other => panic!("wrong error: {other}"),
    }
}

#[tokio::test]
async fn no_s256_refuses_to_proceed() {
    let mcp = MockServer::start().await;
    let auth = MockServer::start().await;
    mount_resource(&mcp, &format!("{}/mcp", mcp.uri()), &auth.uri()).await;
    let mut meta = as_metadata(&auth.uri());
    meta["code_challenge_methods_supported"] = json!(["plain"]);
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(meta))
        .mount(&auth)
        .await;
    expect_untouched(&auth, "/register").await;
    let err = discover(
        &RecordingHttp::new(),
        &format!("{}/mcp", mcp.uri()),
        &DiscoverOptions::default(),
    )
    .await
    .expect_err("no S256");
    assert!(matches!(err, Error::PkceNotSupported { .. }), "{err}");
    assert!(err.to_string().contains("S256") && err.to_string().contains("plain"));

    // Absent altogether is refused too.
    let mut meta = as_metadata(&auth.uri());
    meta.as_object_mut()
        .expect("object")
        .remove("code_challenge_methods_supported");
    auth.reset().await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(meta))
        .mount(&auth)
        .await;
    let err = discover(
        &RecordingHttp::new(),
        &format!("{}/mcp", mcp.uri()),
        &DiscoverOptions::default(),
    )
    .await
    .expect_err("absent");
    assert!(err.to_string().contains("absent"), "{err}");
}

#[tokio::test]
async fn plain_http_endpoint_on_a_public_host_is_refused() {
    let mcp = MockServer::start().await;
    let auth = MockServer::start().await;
    mount_resource(&mcp, &format!("{}/mcp", mcp.uri()), &auth.uri()).await;
    let mut meta = as_metadata(&auth.uri());
    meta["token_endpoint"] = json!("http://tokens.example.com/token");
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(meta))
        .mount(&auth)
        .await;
    let http = RecordingHttp::new();
    let err = discover(
        &http,
        &format!("{}/mcp", mcp.uri()),
        &DiscoverOptions::default(),
    )
    .await
    .expect_err("insecure");
    assert!(
        matches!(
            err,
            Error::InsecureUrl {
                what: "token endpoint",
                ..
            }
        ),
        "{err}"
    );
    assert!(!http.sent_to("tokens.example.com"));

    // An http issuer on a public host is refused before anything is fetched from it.
    let err = mcpauth_core::discovery::fetch_authorization_server_metadata(
        &http,
        "http://as.example.com",
    )
    .await
    .expect_err("insecure issuer");
    assert!(matches!(err, Error::InsecureUrl { .. }), "{err}");
    assert!(!http.sent_to("as.example.com"));
}

/// No bearer token over cleartext: an http:// MCP URL on a host that is not
/// loopback is refused before even the probe is sent (SPEC §5.1).
#[tokio::test]
async fn an_http_mcp_url_off_loopback_is_refused_before_anything_is_sent() {
    let http = RecordingHttp::new();
    for url in ["http://mcp.example.com/mcp", "http://10.0.0.7:8080/mcp"] {
        let err = discover(&http, url, &DiscoverOptions::default())
            .await
            .expect_err("cleartext");
        assert!(
            matches!(
                err,
                Error::InsecureUrl {
                    what: "MCP server URL",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("must use https"), "{err}");
    }
    assert!(http.urls().is_empty(), "sent: {:?}", http.urls());
}

#[tokio::test]
async fn oversized_body_is_not_read() {
    let auth = MockServer::start().await;
    let big = "x".repeat(DEFAULT_BODY_LIMIT + 1);
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_string(big))
        .mount(&auth)
        .await;
    let err = mcpauth_core::discovery::fetch_authorization_server_metadata(
        &RecordingHttp::new(),
        &auth.uri(),
    )
    .await
    .expect_err("too large");
    assert!(
        matches!(err, Error::BodyTooLarge { limit, .. } if limit == DEFAULT_BODY_LIMIT),
        "{err}"
    );
}

#[tokio::test]
async fn malformed_json_names_the_url_and_field() {
    let auth = MockServer::start().await;
    let mut meta = as_metadata(&auth.uri());
    meta["scopes_supported"] = json!("not-a-list");
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(meta))
        .mount(&auth)
        .await;
    let err = mcpauth_core::discovery::fetch_authorization_server_metadata(
        &RecordingHttp::new(),
        &auth.uri(),
    )
    .await
    .expect_err("bad field");
    let text = err.to_string();
    assert!(
        text.contains("scopes_supported") && text.contains(&auth.uri()),
        "{text}"
    );

    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"access_token": "#))
        .mount(&auth)
        .await;
    let metadata = metadata_of(&auth);
    let err = try_refresh(&metadata, &public_client(&auth.uri()), "rt-secret")
        .await
        .expect_err("truncated");
    assert!(matches!(err, Error::InvalidJson { .. }), "{err}");
    assert!(!err.to_string().contains("rt-secret"));
}

fn public_client(issuer: &str) -> ClientRegistration {
    ClientRegistration::pre_registered(issuer, "public-client", ClientAuth::None)
}

fn metadata_of(auth: &MockServer) -> AuthorizationServerMetadata {
    serde_json::from_value(as_metadata(&auth.uri())).expect("metadata")
}

/// A plain refresh of `refresh_token` for resource `https://r`.
async fn try_refresh(
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    refresh_token: &str,
) -> mcpauth_core::Result<mcpauth_core::token::TokenResponse> {
    refresh(
        &RecordingHttp::new(),
        metadata,
        client,
        &RefreshToken::new(refresh_token),
        "https://r",
        None,
    )
    .await
}

#[tokio::test]
async fn token_endpoint_redirect_is_not_followed() {
    let auth = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/steal", elsewhere.uri()).as_str()),
        )
        .mount(&auth)
        .await;
    let metadata = metadata_of(&auth);
    let client = ClientRegistration {
        auth: ClientAuth::SecretBasic(ClientSecret::new("client-secret-value")),
        ..public_client(&auth.uri())
    };
    let err = try_refresh(&metadata, &client, "rt")
        .await
        .expect_err("redirect");
    assert!(matches!(err, Error::UnexpectedRedirect { .. }), "{err}");
    assert!(err.to_string().contains("/steal"));
    assert!(elsewhere
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty());
}

#[tokio::test]
async fn metadata_redirects_stay_on_the_origin() {
    let auth = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/moved"))
        .mount(&auth)
        .await;
    Mock::given(path("/moved"))
        .respond_with(ResponseTemplate::new(200).set_body_json(as_metadata(&auth.uri())))
        .mount(&auth)
        .await;
    let (_, meta) = mcpauth_core::discovery::fetch_authorization_server_metadata(
        &RecordingHttp::new(),
        &auth.uri(),
    )
    .await
    .expect("same-origin redirect followed");
    assert_eq!(meta.issuer, auth.uri());

    auth.reset().await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/meta", elsewhere.uri()).as_str()),
        )
        .mount(&auth)
        .await;
    let err = mcpauth_core::discovery::fetch_authorization_server_metadata(
        &RecordingHttp::new(),
        &auth.uri(),
    )
    .await
    .expect_err("cross-origin");
    assert!(matches!(err, Error::UnexpectedRedirect { .. }), "{err}");
    assert!(elsewhere
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let slow = MockServer::start().await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&slow)
        .await;
    let started = Instant::now();
    let err = mcpauth_core::discovery::fetch_authorization_server_metadata(
        &RecordingHttp::with_timeout(Duration::from_millis(500)),
        &slow.uri(),
    )
    .await
    .expect_err("timeout");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    // Bounded by the timeout, not by the server (a generous margin for a loaded CI machine).
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A pending sign-in against a mock AS, and the store holding it.
async fn pending_sign_in(
    auth: &MockServer,
) -> (
    AuthorizationServerMetadata,
    ClientRegistration,
    PendingStore,
    String,
) {
    let metadata = metadata_of(auth);
    let client = public_client(&auth.uri());
    let (_, pending) = start_authorization(
        &metadata,
        &client,
        &AuthorizationRequest {
            resource: "https://mcp.example/mcp".into(),
            scopes: Some(Scopes::parse("mcp:read")),
            redirect_uri: "http://127.0.0.1:1/callback".into(),
            prompt: None,
        },
    )
    .expect("start");
    let state = pending.state.secret().to_string();
    let store = PendingStore::default();
    store.insert(pending);
    (metadata, client, store, state)
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn bad_callbacks_never_reach_the_token_endpoint() {
    let auth = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "at", "token_type": "Bearer"})),
        )
        .expect(1)
        .named("only the one valid callback reaches the token endpoint")
        .mount(&auth)
        .await;
    let (metadata, client, store, state) = pending_sign_in(&auth).await;
    let iss = enc(&auth.uri());
    let http = RecordingHttp::new();
    type Check = fn(&Error) -> bool;
    let cases: Vec<(String, Check)> = vec![
        (format!("code=c&iss={iss}"), |e| {
            matches!(
                e,
                Error::State {
                    problem: StateProblem::Missing
                }
            )
        }),
        (format!("code=c&state=forged&iss={iss}"), |e| {
            matches!(
                e,
                Error::State {
                    problem: StateProblem::Unknown
                }
            )
        }),
    ];
    for (query, check) in cases {
        let err = finish_authorization(
            &http,
            &metadata,
            &client,
            &store,
            CallbackParams::from_query(&query),
        )
        .await
        .expect_err(&query);
        assert!(check(&err), "{query}: {err}");
    }
    // The valid one goes through, exactly once.
    let done = finish_authorization(
        &http,
        &metadata,
        &client,
        &store,
        CallbackParams::from_query(&format!("code=c&state={state}&iss={iss}")),
    )
    .await
    .expect("valid callback");
    assert_eq!(done.tokens.access_token.secret(), "at");
    let err = finish_authorization(
        &http,
        &metadata,
        &client,
        &store,
        CallbackParams::from_query(&format!("code=c&state={state}&iss={iss}")),
    )
    .await
    .expect_err("reused");
    assert!(
        matches!(
            err,
            Error::State {
                problem: StateProblem::Reused
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_or_missing_iss_discards_the_code() {
    let auth = MockServer::start().await;
    expect_untouched(&auth, "/token").await;
    for iss in [
        Some("https://evil.example"),
        Some(&format!("{}/", auth.uri())[..]),
        None,
    ] {
        let (metadata, client, store, state) = pending_sign_in(&auth).await;
        let query = match iss {
            Some(iss) => format!(
                "code=c&state={state}&iss={}&error_description=phish",
                enc(iss)
            ),
            None => format!("code=c&state={state}"),
        };
        let err = finish_authorization(
            &RecordingHttp::new(),
            &metadata,
            &client,
            &store,
            CallbackParams::from_query(&query),
        )
        .await
        .expect_err("refused");
        match iss {
            Some(_) => assert!(matches!(err, Error::CallbackIssuerMismatch { .. }), "{err}"),
            None => assert!(matches!(err, Error::CallbackIssuerMissing { .. }), "{err}"),
        }
        assert!(!err.to_string().contains("phish"));
    }
}

#[tokio::test]
async fn legacy_server_without_metadata_uses_default_endpoints() {
    let legacy = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/mcp"))
        .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", "Bearer"))
        .mount(&legacy)
        .await;
    let found = discover(
        &RecordingHttp::new(),
        &format!("{}/mcp", legacy.uri()),
        &DiscoverOptions::default(),
    )
    .await
    .expect("legacy defaults");
    assert!(found.legacy);
    assert_eq!(found.metadata_url, None);
    assert_eq!(
        found.metadata.authorization_endpoint,
        format!("{}/authorize", legacy.uri())
    );
    assert_eq!(
        found.metadata.token_endpoint,
        format!("{}/token", legacy.uri())
    );
    assert_eq!(
        found.metadata.registration_endpoint,
        Some(format!("{}/register", legacy.uri()))
    );
    assert_eq!(found.resource, format!("{}/mcp", legacy.uri()));
}

#[tokio::test]
async fn registration_errors_retry_once_then_explain() {
    let auth = MockServer::start().await;
    Mock::given(path("/register"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client_metadata",
            "error_description": "scope is not allowed for this client",
        })))
        .expect(2)
        .mount(&auth)
        .await;
    let metadata = metadata_of(&auth);
    let request = RegistrationRequest {
        pre_registered: None,
        client_metadata_url: None,
        client_name: "MCP Auth".into(),
        redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
        scope: Some(Scopes::parse("mcp:read")),
        device_flow: false,
    };
    let err = obtain_client(&RecordingHttp::new(), &metadata, &request)
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::RegistrationRefused { .. }), "{err}");
    assert!(err.to_string().contains("scope is not allowed"), "{err}");
    let bodies: Vec<Value> = auth
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["scope"], "mcp:read");
    assert!(
        bodies[1].get("scope").is_none(),
        "the retry drops the field the server named"
    );
    assert_eq!(bodies[0]["application_type"], "native");
    assert_eq!(bodies[0]["token_endpoint_auth_method"], "none");
}

/// Asks to widen `mcp:read` by `mcp:write` through refresh.
async fn upgrade_read_to_write(
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
) -> mcpauth_core::Result<RefreshUpgrade> {
    upgrade_by_refresh(
        &RecordingHttp::new(),
        metadata,
        client,
        &RefreshToken::new("rt"),
        "https://r",
        &Scopes::parse("mcp:read"),
        &Scopes::parse("mcp:write"),
    )
    .await
}

#[tokio::test]
async fn wider_scope_on_refresh_granted_or_refused() {
    let auth = MockServer::start().await;
    let metadata = metadata_of(&auth);
    let client = public_client(&auth.uri());
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "wider", "token_type": "Bearer", "scope": "mcp:read mcp:write", "refresh_token": "rt2"
        })))
        .up_to_n_times(1)
        .mount(&auth)
        .await;
    let outcome = upgrade_read_to_write(&metadata, &client)
        .await
        .expect("upgrade");
    assert!(
        matches!(outcome, RefreshUpgrade::Granted(ref t) if t.refresh_token.as_ref().map(|r| r.secret()) == Some("rt2"))
    );
    let form = String::from_utf8(
        auth.received_requests().await.unwrap_or_default()[0]
            .body
            .clone(),
    )
    .expect("utf8");
    assert!(
        form.contains("scope=mcp%3Aread+mcp%3Awrite") && form.contains("resource=https%3A%2F%2Fr"),
        "{form}"
    );

    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_scope", "error_description": "no widening"}),
            ),
        )
        .mount(&auth)
        .await;
    let outcome = upgrade_read_to_write(&metadata, &client)
        .await
        .expect("falls back");
    match outcome {
        RefreshUpgrade::NeedsReauthorization { wanted, reason, .. } => {
            assert_eq!(wanted.to_string(), "mcp:read mcp:write");
            assert!(reason.contains("no widening"));
        }
        other => panic!("expected re-authorization, got {other:?}"),
    }
}

#[tokio::test]
async fn oauth_errors_keep_their_fields() {
    let auth = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "grant revoked", "error_uri": "https://as/help"
        })))
        .mount(&auth)
        .await;
    let metadata = metadata_of(&auth);
    let err = try_refresh(&metadata, &public_client(&auth.uri()), "rt")
        .await
        .expect_err("refused");
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(
        text.contains("grant revoked") && text.contains("https://as/help"),
        "{text}"
    );
}

#[tokio::test]
async fn a_client_is_never_used_with_another_issuer() {
    let auth = MockServer::start().await;
    expect_untouched(&auth, "/token").await;
    let metadata = metadata_of(&auth);
    let foreign = public_client("https://another-issuer.example");
    let err = try_refresh(&metadata, &foreign, "rt")
        .await
        .expect_err("foreign client");
    assert!(matches!(err, Error::ClientIssuerMismatch { .. }), "{err}");
}

#[tokio::test]
async fn http_limits_are_configurable() {
    let auth = MockServer::start().await;
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(as_metadata(&auth.uri())))
        .mount(&auth)
        .await;
    let tiny = RecordingHttp::with_limits(HttpLimits {
        body_limit: 16,
        ..HttpLimits::default()
    });
    let err = mcpauth_core::discovery::fetch_authorization_server_metadata(&tiny, &auth.uri())
        .await
        .expect_err("over the small cap");
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 16, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn rate_limited_token_endpoint_is_transient_with_its_delay() {
    let auth = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .mount(&auth)
        .await;
    let metadata = metadata_of(&auth);
    let err = try_refresh(&metadata, &public_client(&auth.uri()), "rt")
        .await
        .expect_err("busy");
    assert!(err.is_transient());
    assert_eq!(err.retry_after(), Some(7));
    assert!(err.to_string().contains("retry after 7 s"), "{err}");
}
