//! The engine end to end against the real servers of `tests/servers`:
//! oidc-provider authorization servers and MCP SDK servers, with the
//! authorization server's own login and consent pages driven over HTTP.

use std::sync::Arc;
use std::time::Duration;

use mcpauth_core::authorize::{reauthorize_with_scopes, start_authorization, AuthorizationRequest};
use mcpauth_core::callback::{CallbackParams, PendingStore};
use mcpauth_core::challenge::bearer_challenges;
use mcpauth_core::discovery::{discover, DiscoverOptions, Discovery};
use mcpauth_core::error::Error;
use mcpauth_core::flow::finish_authorization;
use mcpauth_core::jwt::SigningKey;
use mcpauth_core::loopback::{LoopbackHost, LoopbackListener};
use mcpauth_core::registration::{
    obtain_client, ClientAuth, ClientRegistration, PreRegisteredClient, RegistrationKind,
    RegistrationRequest,
};
use mcpauth_core::scopes::{select_scopes, Scopes, StepUp};
use mcpauth_core::secret::{ClientSecret, PrivateKeyMaterial};
use mcpauth_core::token::{
    client_credentials, introspect, refresh, revoke_grant, upgrade_by_refresh, RefreshUpgrade,
    TokenResponse,
};
use mcpauth_testkit::RecordingHttp;
use mcpauth_testkit::{call_tool, drive_login, jwt_claims, servers};

enum Identity {
    PreRegistered,
    MetadataDocument,
    Dynamic,
}

struct SignedIn {
    discovery: Discovery,
    client: ClientRegistration,
    tokens: TokenResponse,
    redirect_uri: String,
}

/// Discovery, registration, authorization through the loopback listener, code exchange.
async fn sign_in(mcp: &str, identity: Identity, scopes: Option<Scopes>) -> SignedIn {
    let http = RecordingHttp::new();
    let discovery = discover(&http, mcp, &DiscoverOptions::default())
        .await
        .expect("discovery");
    let listener = LoopbackListener::bind(LoopbackHost::Ip, 0)
        .await
        .expect("loopback");
    let redirect_uri = listener.redirect_uri().to_string();
    let request = RegistrationRequest {
        pre_registered: matches!(identity, Identity::PreRegistered).then(|| PreRegisteredClient {
            client_id: "mcpauth-public".into(),
            auth: ClientAuth::None,
        }),
        client_metadata_url: matches!(identity, Identity::MetadataDocument)
            .then(|| servers().cimd_client_id().to_string()),
        client_name: "MCP Auth tests".into(),
        redirect_uris: vec![redirect_uri.clone()],
        scope: None,
        device_flow: false,
    };
    let client = obtain_client(&http, &discovery.metadata, &request)
        .await
        .expect("client identity");
    let expected_kind = match identity {
        Identity::PreRegistered => RegistrationKind::PreRegistered,
        Identity::MetadataDocument => RegistrationKind::MetadataDocument,
        Identity::Dynamic => RegistrationKind::Dynamic,
    };
    assert_eq!(client.kind, expected_kind);
    let scopes = scopes.or_else(|| {
        select_scopes(
            discovery.challenge.as_ref(),
            discovery.resource_metadata.as_ref(),
            &discovery.metadata,
        )
    });
    let (url, pending) = start_authorization(
        &discovery.metadata,
        &client,
        &AuthorizationRequest {
            resource: discovery.resource.clone(),
            scopes,
            redirect_uri: redirect_uri.clone(),
            prompt: None,
        },
    )
    .expect("authorization URL");
    let tokens =
        authorize_and_exchange(&http, &discovery, &client, listener, url.as_str(), pending).await;
    SignedIn {
        discovery,
        client,
        tokens,
        redirect_uri,
    }
}

/// The user approves in the "browser"; the browser lands on the loopback listener.
async fn authorize_and_exchange(
    http: &RecordingHttp,
    discovery: &Discovery,
    client: &ClientRegistration,
    listener: LoopbackListener,
    url: &str,
    pending: mcpauth_core::authorize::PendingAuthorization,
) -> TokenResponse {
    let store = PendingStore::default();
    let redirect_uri = listener.redirect_uri().to_string();
    let state = pending.state.clone();
    store.insert(pending);
    let waiting = tokio::spawn(async move { listener.wait(&state, Duration::from_secs(30)).await });
    let landing = drive_login(url, &redirect_uri, "alice").await;
    let browser = tokio::spawn(async move {
        reqwest::get(&landing)
            .await
            .expect("browser reaches the listener")
            .text()
            .await
            .expect("page")
    });
    let mut callback = waiting.await.expect("join").expect("callback");
    let params = callback.take_params();
    assert_eq!(
        params.iss.as_deref(),
        Some(discovery.issuer.as_str()),
        "the response carries iss"
    );
    let done = finish_authorization(http, &discovery.metadata, client, &store, params)
        .await
        .expect("code exchange");
    callback.answer(Ok(())).await;
    let page = browser.await.expect("join");
    assert!(page.contains("close this window"));
    done.tokens
}

/// The HTTP status of a `whoami` tool call on one of the test MCP servers.
async fn whoami_status(server: &str, token: &str) -> u16 {
    call_tool(servers().mcp(server), token, "whoami")
        .await
        .status
}

fn assert_token_for(tokens: &TokenResponse, discovery: &Discovery) {
    let claims = jwt_claims(tokens.access_token.secret());
    assert_eq!(
        claims["aud"],
        discovery.resource.as_str(),
        "the token is bound to the resource"
    );
    assert_eq!(claims["iss"], discovery.issuer.as_str());
}

#[tokio::test]
async fn sign_in_with_a_pre_registered_client() {
    let s = sign_in(servers().mcp("current"), Identity::PreRegistered, None).await;
    assert_eq!(s.discovery.issuer, servers().issuer());
    assert_eq!(s.discovery.resource, servers().mcp("current"));
    assert_token_for(&s.tokens, &s.discovery);
    assert!(s.tokens.refresh_token.is_some());
    assert_eq!(
        s.tokens.scopes.as_ref().map(|x| x.to_string()),
        Some("mcp:read".into())
    );
    let call = call_tool(
        servers().mcp("current"),
        s.tokens.access_token.secret(),
        "whoami",
    )
    .await;
    assert_eq!(call.status, 200);
    assert!(call.result.expect("result").to_string().contains("alice"));
}

#[tokio::test]
async fn sign_in_with_a_client_id_metadata_document() {
    assert!(
        mcpauth_core::discovery::fetch_authorization_server_metadata(
            &RecordingHttp::new(),
            servers().issuer()
        )
        .await
        .expect("metadata")
        .1
        .client_id_metadata_document_supported
    );
    let s = sign_in(servers().mcp("current"), Identity::MetadataDocument, None).await;
    assert_eq!(s.client.client_id, servers().cimd_client_id());
    assert_eq!(
        jwt_claims(s.tokens.access_token.secret())["client_id"],
        servers().cimd_client_id()
    );
    assert_token_for(&s.tokens, &s.discovery);
}

#[tokio::test]
async fn sign_in_with_dynamic_registration() {
    let s = sign_in(servers().mcp("current"), Identity::Dynamic, None).await;
    assert!(s.client.client_id.len() > 8 && s.client.client_id != "mcpauth-public");
    assert!(!s.client.auth.is_confidential());
    assert!(
        s.tokens.refresh_token.is_some(),
        "registered with the refresh_token grant"
    );
    assert_token_for(&s.tokens, &s.discovery);
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_is_refused() {
    let s = sign_in(servers().mcp("current"), Identity::PreRegistered, None).await;
    let http = RecordingHttp::new();
    let old = s.tokens.refresh_token.clone().expect("refresh token");
    let fresh = refresh(
        &http,
        &s.discovery.metadata,
        &s.client,
        &old,
        &s.discovery.resource,
        None,
    )
    .await
    .expect("refresh");
    let new_rt = fresh.refresh_token.clone().expect("rotated refresh token");
    assert_ne!(new_rt.secret(), old.secret());
    assert_ne!(fresh.access_token.secret(), s.tokens.access_token.secret());
    assert_token_for(&fresh, &s.discovery);
    let err = refresh(
        &http,
        &s.discovery.metadata,
        &s.client,
        &old,
        &s.discovery.resource,
        None,
    )
    .await
    .expect_err("the spent refresh token is refused");
    assert_eq!(err.oauth_error(), Some("invalid_grant"), "{err}");
}

#[tokio::test]
async fn wider_scope_refresh_falls_back_to_reauthorization_for_the_union() {
    let s = sign_in(servers().mcp("current"), Identity::PreRegistered, None).await;
    let http = RecordingHttp::new();
    let rt = s.tokens.refresh_token.clone().expect("refresh token");
    let current = s.tokens.scopes.clone().expect("granted");
    let added = Scopes::parse("mcp:write");
    // oidc-provider refuses to widen on refresh (invalid_scope) without spending the token.
    let outcome = upgrade_by_refresh(
        &http,
        &s.discovery.metadata,
        &s.client,
        &rt,
        &s.discovery.resource,
        &current,
        &added,
    )
    .await
    .expect("upgrade attempt");
    let wanted = match outcome {
        RefreshUpgrade::NeedsReauthorization {
            wanted,
            reason,
            issued: None,
        } => {
            assert!(reason.contains("invalid_scope"), "{reason}");
            wanted
        }
        other => panic!("expected a fallback, got {other:?}"),
    };
    assert_eq!(wanted.to_string(), "mcp:read mcp:write");
    assert!(refresh(
        &http,
        &s.discovery.metadata,
        &s.client,
        &rt,
        &s.discovery.resource,
        None
    )
    .await
    .is_ok());

    let listener = LoopbackListener::bind(LoopbackHost::Ip, 0)
        .await
        .expect("loopback");
    let request = AuthorizationRequest {
        resource: s.discovery.resource.clone(),
        scopes: None,
        redirect_uri: listener.redirect_uri().to_string(),
        prompt: None,
    };
    let (url, pending) =
        reauthorize_with_scopes(&s.discovery.metadata, &s.client, &request, &current, &added)
            .expect("url");
    let wider = authorize_and_exchange(
        &http,
        &s.discovery,
        &s.client,
        listener,
        url.as_str(),
        pending,
    )
    .await;
    assert_eq!(
        wider.scopes.map(|x| x.to_string()),
        Some("mcp:read mcp:write".into())
    );
    let call = call_tool(
        servers().mcp("current"),
        wider.access_token.secret(),
        "write_note",
    )
    .await;
    assert_eq!(call.status, 200);
    let _ = s.redirect_uri;
}

#[tokio::test]
async fn step_up_on_insufficient_scope() {
    let s = sign_in(servers().mcp("current"), Identity::PreRegistered, None).await;
    let http = RecordingHttp::new();
    let mut token = s.tokens.access_token.clone();
    let mut requested = s.tokens.scopes.clone().expect("scopes");
    let mut step_up = StepUp::new();
    let result = loop {
        let call = call_tool(servers().mcp("current"), token.secret(), "write_note").await;
        if call.status != 403 {
            break call;
        }
        let challenge = bearer_challenges(call.www_authenticate.iter().map(String::as_str))
            .into_iter()
            .next()
            .expect("a Bearer challenge");
        assert!(challenge.is_insufficient_scope());
        requested = step_up
            .next_scopes(
                &s.discovery.resource,
                "tools/call write_note",
                &requested,
                &challenge,
            )
            .expect("within the attempt budget");
        let listener = LoopbackListener::bind(LoopbackHost::Ip, 0)
            .await
            .expect("loopback");
        let request = AuthorizationRequest {
            resource: s.discovery.resource.clone(),
            scopes: Some(requested.clone()),
            redirect_uri: listener.redirect_uri().to_string(),
            prompt: None,
        };
        let (url, pending) =
            start_authorization(&s.discovery.metadata, &s.client, &request).expect("url");
        token = authorize_and_exchange(
            &http,
            &s.discovery,
            &s.client,
            listener,
            url.as_str(),
            pending,
        )
        .await
        .access_token;
    };
    assert_eq!(result.status, 200);
    assert_eq!(requested.to_string(), "mcp:read mcp:write");
}

async fn machine_token(client_id: &str, auth: ClientAuth) -> TokenResponse {
    let http = RecordingHttp::new();
    let discovery = discover(&http, servers().mcp("current"), &DiscoverOptions::default())
        .await
        .expect("discovery");
    let client = obtain_client(
        &http,
        &discovery.metadata,
        &RegistrationRequest {
            pre_registered: Some(PreRegisteredClient {
                client_id: client_id.into(),
                auth,
            }),
            client_metadata_url: None,
            client_name: "machine".into(),
            redirect_uris: vec![],
            scope: None,
            device_flow: false,
        },
    )
    .await
    .expect("client");
    let tokens = client_credentials(
        &http,
        &discovery.metadata,
        &client,
        &discovery.resource,
        Some(&Scopes::parse("mcp:read")),
    )
    .await
    .expect("client credentials");
    assert!(tokens.refresh_token.is_none());
    let claims = jwt_claims(tokens.access_token.secret());
    assert_eq!(claims["sub"], client_id);
    assert_eq!(claims["aud"], discovery.resource.as_str());
    let call = call_tool(
        servers().mcp("current"),
        tokens.access_token.secret(),
        "whoami",
    )
    .await;
    assert_eq!(call.status, 200, "the MCP server accepts the machine token");
    tokens
}

#[tokio::test]
async fn client_credentials_with_secret_basic_and_post() {
    let secret = |n| ClientSecret::new(servers().client_str(n, "client_secret"));
    machine_token("mcpauth-basic", ClientAuth::SecretBasic(secret("basic"))).await;
    machine_token("mcpauth-post", ClientAuth::SecretPost(secret("post"))).await;
    // A wrong secret is refused by the server with its own error.
    let http = RecordingHttp::new();
    let discovery = discover(&http, servers().mcp("current"), &DiscoverOptions::default())
        .await
        .expect("discovery");
    let bad = ClientRegistration::pre_registered(
        &discovery.issuer,
        "mcpauth-basic",
        ClientAuth::SecretBasic(ClientSecret::new("wrong-secret")),
    );
    let err = client_credentials(&http, &discovery.metadata, &bad, &discovery.resource, None)
        .await
        .expect_err("refused");
    assert_eq!(err.oauth_error(), Some("invalid_client"), "{err}");
    assert!(!err.to_string().contains("wrong-secret"));
}

#[tokio::test]
async fn client_credentials_with_private_key_jwt() {
    // ES256 from PEM, RS256 from JWK, PS256 and EdDSA from PEM.
    let es = SigningKey::load(
        &PrivateKeyMaterial::new(servers().client_str("es256", "private_key_pem")),
        None,
    )
    .expect("ES256 PEM");
    machine_token("mcpauth-es256", ClientAuth::PrivateKeyJwt(Arc::new(es))).await;
    let jwk = servers().client("rs256")["private_jwk"].to_string();
    let rs = SigningKey::load(&PrivateKeyMaterial::new(jwk), None).expect("RS256 JWK");
    assert_eq!(rs.algorithm().as_str(), "RS256");
    machine_token("mcpauth-rs256", ClientAuth::PrivateKeyJwt(Arc::new(rs))).await;
    let ps = SigningKey::load(
        &PrivateKeyMaterial::new(servers().client_str("ps256", "private_key_pem")),
        Some(mcpauth_core::jwt::SigningAlgorithm::Ps256),
    )
    .expect("PS256 PEM");
    machine_token("mcpauth-ps256", ClientAuth::PrivateKeyJwt(Arc::new(ps))).await;
    let ed = SigningKey::load(
        &PrivateKeyMaterial::new(servers().client_str("eddsa", "private_key_pem")),
        None,
    )
    .expect("EdDSA PEM");
    machine_token("mcpauth-eddsa", ClientAuth::PrivateKeyJwt(Arc::new(ed))).await;
}

#[tokio::test]
async fn sign_out_revokes_the_grant() {
    let s = sign_in(servers().mcp("current"), Identity::PreRegistered, None).await;
    let http = RecordingHttp::new();
    let rt = s.tokens.refresh_token.clone().expect("refresh token");
    let introspector = ClientRegistration::pre_registered(
        &s.discovery.issuer,
        servers().client_str("introspector", "client_id"),
        ClientAuth::SecretBasic(ClientSecret::new(
            servers().client_str("introspector", "client_secret"),
        )),
    );
    let before = introspect(&http, &s.discovery.metadata, &introspector, rt.secret())
        .await
        .expect("introspect");
    assert!(before.active);
    let report = revoke_grant(
        &http,
        &s.discovery.metadata,
        &s.client,
        Some(&rt),
        Some(&s.tokens.access_token),
    )
    .await;
    assert!(report.supported);
    assert!(
        matches!(report.refresh_token, Some(Ok(()))),
        "{:?}",
        report.refresh_token
    );
    // oidc-provider cannot revoke its JWT access tokens (unsupported_token_type):
    // the report says so, and the user is told rather than misled.
    match &report.access_token {
        Some(Err(Error::RevocationFailed { reason, .. })) => {
            assert!(reason.contains("unsupported_token_type"), "{reason}")
        }
        other => panic!("unexpected access token revocation result {other:?}"),
    }
    assert!(!report.all_succeeded());
    let after = introspect(&http, &s.discovery.metadata, &introspector, rt.secret())
        .await
        .expect("introspect");
    assert!(!after.active, "introspection says the grant is gone");
    let err = refresh(
        &http,
        &s.discovery.metadata,
        &s.client,
        &rt,
        &s.discovery.resource,
        None,
    )
    .await
    .expect_err("revoked");
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
}

#[tokio::test]
async fn discovery_for_the_path_issuer_via_the_well_known_fallback() {
    let http = RecordingHttp::new();
    let d = discover(
        &http,
        servers().mcp("fallback"),
        &DiscoverOptions::default(),
    )
    .await
    .expect("discovery");
    assert_eq!(d.issuer, servers().tenant_issuer());
    assert_eq!(
        d.challenge
            .as_ref()
            .and_then(|c| c.resource_metadata.clone()),
        None
    );
    let origin = servers()
        .mcp("fallback")
        .trim_end_matches("/mcp")
        .to_string();
    assert_eq!(
        d.resource_metadata_url.as_deref(),
        Some(&*format!("{origin}/.well-known/oauth-protected-resource"))
    );
    assert_eq!(
        d.metadata_url.as_deref(),
        Some(&*format!("{}/.well-known/openid-configuration", d.issuer))
    );
    let tenant_origin = servers().tenant_issuer().trim_end_matches("/tenant1");
    let urls = http.urls();
    for root in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        assert!(
            !urls.contains(&format!("{tenant_origin}{root}")),
            "root well-known URL requested: {urls:?}"
        );
    }
    assert!(urls.contains(&format!(
        "{tenant_origin}/.well-known/oauth-authorization-server/tenant1"
    )));
    // And a whole sign-in through the tenant works.
    let s = sign_in(servers().mcp("fallback"), Identity::PreRegistered, None).await;
    assert_token_for(&s.tokens, &s.discovery);
    assert_eq!(
        whoami_status("fallback", s.tokens.access_token.secret()).await,
        200
    );
}

#[tokio::test]
async fn discovery_and_sign_in_for_the_legacy_server() {
    let d = discover(
        &RecordingHttp::new(),
        servers().mcp("legacy"),
        &DiscoverOptions::default(),
    )
    .await
    .expect("discovery");
    assert!(d.legacy);
    assert_eq!(d.resource_metadata, None);
    assert_eq!(d.issuer, servers().issuer());
    assert_eq!(
        d.metadata_url.as_deref(),
        Some(&*format!(
            "{}/.well-known/oauth-authorization-server",
            servers().issuer()
        ))
    );
    assert_eq!(d.resource, servers().mcp("legacy"));
    let s = sign_in(
        servers().mcp("legacy"),
        Identity::PreRegistered,
        Some(Scopes::parse("mcp:read")),
    )
    .await;
    assert_token_for(&s.tokens, &s.discovery);
    assert_eq!(
        whoami_status("legacy", s.tokens.access_token.secret()).await,
        200
    );
}

#[tokio::test]
async fn a_pasted_redirect_url_completes_a_sign_in() {
    // The --no-browser path: no listener; the user pastes where the browser landed.
    let http = RecordingHttp::new();
    let d = discover(&http, servers().mcp("current"), &DiscoverOptions::default())
        .await
        .expect("discovery");
    let client = obtain_client(
        &http,
        &d.metadata,
        &RegistrationRequest {
            pre_registered: Some(PreRegisteredClient {
                client_id: "mcpauth-public".into(),
                auth: ClientAuth::None,
            }),
            client_metadata_url: None,
            client_name: "t".into(),
            redirect_uris: vec!["mcpauth://oauth/callback".into()],
            scope: None,
            device_flow: false,
        },
    )
    .await
    .expect("client");
    let (url, pending) = start_authorization(
        &d.metadata,
        &client,
        &AuthorizationRequest {
            resource: d.resource.clone(),
            scopes: Some(Scopes::parse("mcp:read")),
            redirect_uri: "mcpauth://oauth/callback".into(),
            prompt: None,
        },
    )
    .expect("url");
    let store = PendingStore::default();
    store.insert(pending);
    let landing = drive_login(url.as_str(), "mcpauth://oauth/callback", "bob").await;
    let params = CallbackParams::from_redirect_url(&landing).expect("parse pasted URL");
    let done = finish_authorization(&http, &d.metadata, &client, &store, params)
        .await
        .expect("exchange");
    assert_eq!(jwt_claims(done.tokens.access_token.secret())["sub"], "bob");
}

/// The steps are reported as they resolve, in order, for a current and a legacy server;
/// a failure comes after the last step that passed.
#[tokio::test]
async fn discovery_reports_each_step_as_it_resolves() {
    use mcpauth_core::discovery::{discover_reporting, DiscoveryProgress};
    use std::sync::Mutex;
    let s = servers();
    for (name, legacy) in [("current", false), ("legacy", true)] {
        let seen = Mutex::new(Vec::new());
        let found = discover_reporting(
            &RecordingHttp::new(),
            s.mcp(name),
            &DiscoverOptions::default(),
            &|p| seen.lock().expect("lock").push(p),
        )
        .await
        .expect("discovery");
        let seen = seen.into_inner().expect("lock");
        assert_eq!(seen.len(), 3, "{name}: {seen:?}");
        assert!(matches!(
            &seen[0],
            DiscoveryProgress::Probed { status: 401, .. }
        ));
        match &seen[1] {
            DiscoveryProgress::ResourceMetadata { url, resource, .. } => {
                assert_eq!(url.is_none(), legacy, "{name}");
                assert_eq!(resource, &found.resource);
            }
            other => panic!("{other:?}"),
        }
        match &seen[2] {
            DiscoveryProgress::AuthorizationServer { issuer, .. } => {
                assert_eq!(issuer, &found.issuer)
            }
            other => panic!("{other:?}"),
        }
    }
    // An MCP URL that is not a server: nothing reported before the error.
    let seen = Mutex::new(0);
    let error = discover_reporting(
        &RecordingHttp::new(),
        &format!("{}/nothing-here", s.issuer()),
        &DiscoverOptions::default(),
        &|_| *seen.lock().expect("lock") += 1,
    )
    .await
    .expect_err("not an MCP server");
    assert_eq!(*seen.lock().expect("lock"), 0, "{error}");
}

/// Discovery works for servers of every generation: their auth middleware
/// answers 401 before looking at the request, except the HTTP+SSE server,
/// which has no POST at its URL (404): the probe then GETs its event stream
/// (headers only). The Python SDK's metadata lists the issuer with the "/" of
/// an empty path.
#[tokio::test]
async fn discovery_for_servers_of_every_generation() {
    use mcpauth_core::discovery::{probe, ProbeForm};
    let s = servers();
    for (name, form) in [
        ("ts2", ProbeForm::Initialize),
        ("rmcp", ProbeForm::Initialize),
        ("sse", ProbeForm::LegacySse),
        ("ts1", ProbeForm::Initialize),
        ("py", ProbeForm::Initialize),
    ] {
        let url = url::Url::parse(s.mcp(name)).expect("url");
        let http = RecordingHttp::new();
        let answer = probe(&http, &url).await.expect("probe");
        assert_eq!((answer.status, answer.form), (401, form), "{name}");
        let d = discover(&http, s.mcp(name), &DiscoverOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.issuer, s.issuer(), "{name}: the metadata's own issuer");
        assert_eq!(d.resource, s.mcp(name), "{name}");
        assert!(!d.legacy, "{name}");
    }
}

/// SDK servers that check the token only on some calls answer the probe with
/// 200: the `lazy` one publishes resource metadata, so it is signed in to
/// like any other; the `open` one publishes none and needs no sign-in.
#[tokio::test]
async fn a_server_that_answers_without_a_token_is_told_apart_from_an_open_one() {
    let s = servers();
    let http = RecordingHttp::new();
    let lazy = discover(&http, s.mcp("lazy"), &DiscoverOptions::default())
        .await
        .expect("the lazy server signs in");
    assert!(lazy.signs_in_lazily);
    assert_eq!(lazy.issuer, s.issuer());
    assert_eq!(lazy.resource, s.mcp("lazy"));
    let open = discover(&http, s.mcp("open"), &DiscoverOptions::default())
        .await
        .expect_err("the open server needs no sign-in");
    assert!(open.to_string().contains("needs no sign-in"), "{open}");
}
