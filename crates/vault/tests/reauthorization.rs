//! The second sign-in and later, against the real servers: oidc-provider
//! matches a dynamically registered client's redirect URIs exactly (port
//! included, tests/servers/as.mjs), so a re-authorization must send the
//! redirect URI it registered, or register again; one client serves every
//! account on an authorization server; a registration the server deleted is
//! registered again on the next sign-in.

mod support;

use mcpauth_core::registration::RegistrationKind;
use mcpauth_core::scopes::Scopes;
use mcpauth_testkit::{call_tool, servers};
use mcpauth_vault::{Account, AccountStatus, Error, SignInRequest, Vault};
use support::test_vault;

fn current() -> &'static str {
    servers().mcp("current")
}

async fn sign_in_dynamic(vault: &Vault, request: SignInRequest, user: &str) -> Account {
    support::sign_in_as(vault, request, user).await
}

fn new_account(url: &str) -> SignInRequest {
    SignInRequest {
        mcp_url: url.into(),
        ..Default::default()
    }
}

fn again(account: &Account) -> SignInRequest {
    SignInRequest {
        account: Some(account.id.clone()),
        scopes: Some(Scopes::parse("mcp:read mcp:write")),
        ..Default::default()
    }
}

fn port_of(uri: &str) -> u16 {
    url::Url::parse(uri).expect("uri").port().expect("port")
}

#[tokio::test]
async fn a_reauthorization_sends_the_redirect_uri_its_client_registered() {
    let t = test_vault();
    let first = sign_in_dynamic(&t.vault, new_account(current()), "rhea").await;
    assert_eq!(first.registration, RegistrationKind::Dynamic);
    let registered = first.redirect_uri.clone().expect("a loopback redirect");
    let upgraded = sign_in_dynamic(&t.vault, again(&first), "rhea").await;
    assert_eq!(upgraded.id, first.id);
    assert_eq!(
        upgraded.client_id, first.client_id,
        "the same client is presented"
    );
    assert_eq!(upgraded.redirect_uri.as_deref(), Some(registered.as_str()));
    assert_eq!(upgraded.granted_scopes, "mcp:read mcp:write");
    let token = t.vault.token(&first.id).await.expect("token");
    assert_eq!(
        call_tool(current(), token.secret(), "write_note")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn when_the_registered_port_is_taken_the_client_is_registered_again() {
    let t = test_vault();
    let first = sign_in_dynamic(&t.vault, new_account(current()), "sol").await;
    let registered = first.redirect_uri.clone().expect("redirect");
    // Another program now listens on the port the client registered.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port_of(&registered)))
        .expect("the port is free again after the first sign-in");
    let upgraded = sign_in_dynamic(&t.vault, again(&first), "sol").await;
    drop(squatter);
    assert_eq!(upgraded.id, first.id);
    assert_ne!(
        upgraded.client_id, first.client_id,
        "a new registration, for the new redirect URI"
    );
    let redirect = upgraded.redirect_uri.clone().expect("redirect");
    assert_ne!(port_of(&redirect), port_of(&registered));
    // Stored with the account: the next refresh presents the new client.
    let refreshed = t.vault.refresh_now(&first.id).await.expect("refresh");
    assert_eq!(refreshed.client_id, upgraded.client_id);
    let log = t.vault.activity(&first.id).expect("activity");
    assert!(
        log.iter()
            .any(|a| a.summary.contains("new registration")
                && a.summary.contains(&upgraded.client_id)),
        "{:?}",
        log.iter().map(|a| &a.summary).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_second_account_on_the_same_authorization_server_reuses_its_client() {
    let t = test_vault();
    let s = servers();
    let first = sign_in_dynamic(&t.vault, new_account(current()), "tara").await;
    // Another MCP server whose resource metadata names the same issuer.
    let other = s.mcp("ts1");
    let second = sign_in_dynamic(&t.vault, new_account(other), "tara").await;
    assert_ne!(second.id, first.id);
    assert_eq!(second.issuer, first.issuer);
    assert_eq!(
        second.client_id, first.client_id,
        "one client per authorization server"
    );
    let token = t.vault.token(&second.id).await.expect("token");
    assert_eq!(call_tool(other, token.secret(), "whoami").await.status, 200);
}

#[tokio::test]
async fn a_registration_the_server_deleted_is_registered_again_at_the_next_sign_in() {
    let t = test_vault();
    let s = servers();
    let first = sign_in_dynamic(&t.vault, new_account(current()), "uma").await;
    let deleted = reqwest::Client::new()
        .delete(format!("{}/__test/clients/{}", s.issuer(), first.client_id))
        .send()
        .await
        .expect("test hook");
    assert_eq!(deleted.status(), 200, "the registration is deleted");
    let error = t
        .vault
        .refresh_now(&first.id)
        .await
        .expect_err("the server no longer knows the client");
    assert!(matches!(error, Error::NeedsSignIn { .. }), "{error:?}");
    let account = t.vault.account(&first.id).expect("account");
    match &account.status {
        AccountStatus::NeedsSignIn { reason } => {
            assert!(
                reason.contains("invalid_client") && reason.contains("registers anew"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    // The next sign-in does not present the deleted client (it would fail
    // the same way): it registers again, and the account keeps working.
    let again = sign_in_dynamic(&t.vault, again(&first), "uma").await;
    assert_eq!(again.id, first.id);
    assert_ne!(again.client_id, first.client_id);
    assert!(matches!(again.status, AccountStatus::Active { .. }));
    let refreshed = t.vault.refresh_now(&first.id).await.expect("refresh");
    assert_eq!(refreshed.client_id, again.client_id);
    // A new account on that server does not borrow the deleted client either.
    let third = sign_in_dynamic(&t.vault, new_account(s.mcp("ts1")), "uma").await;
    assert_eq!(third.client_id, again.client_id);
}

/// A `server/discover` in the 2026-07-28 form with `token`: the status the
/// server answers (200 when it takes the token).
async fn discover_status(mcp_url: &str, token: &str) -> u16 {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
        "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "mcpauth-tests", "version": "0"}}}});
    reqwest::Client::new()
        .post(mcp_url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "server/discover")
        .json(&body)
        .send()
        .await
        .expect("server/discover")
        .status()
        .as_u16()
}

/// Moves the `moving` test server (SDK 2.x, 2026-07-28 only) to `issuer`.
async fn move_to(issuer: &str) {
    let s = servers();
    let hook = s
        .mcp("moving")
        .replace("/moving/mcp", "/moving/__test/authorization-server");
    let answer = reqwest::Client::new()
        .post(hook)
        .json(&serde_json::json!({ "issuer": issuer }))
        .send()
        .await
        .expect("test hook");
    assert_eq!(answer.status(), 200, "the server moved");
}

/// SEP-2352 against a server that speaks only 2026-07-28 (its probe is a
/// `server/discover`): the resource now names another authorization server,
/// so the next sign-in discovers afresh, registers there (the old client is
/// not presented) and the account takes the new issuer, client and tokens.
#[tokio::test]
async fn a_2026_server_that_moves_to_another_authorization_server_is_followed_there() {
    let t = test_vault();
    let s = servers();
    let moving = s.mcp("moving");
    let first = sign_in_dynamic(&t.vault, new_account(moving), "vera").await;
    assert_eq!(first.issuer, s.issuer());
    let old = t.vault.token(&first.id).await.expect("token");
    assert_eq!(discover_status(moving, old.secret()).await, 200);

    move_to(s.tenant_issuer()).await;
    let moved = async {
        assert_eq!(
            discover_status(moving, old.secret()).await,
            401,
            "the old server's token no longer passes"
        );
        let moved = sign_in_dynamic(
            &t.vault,
            SignInRequest {
                account: Some(first.id.clone()),
                ..Default::default()
            },
            "vera",
        )
        .await;
        let token = t.vault.token(&first.id).await.expect("token");
        let status = discover_status(moving, token.secret()).await;
        let refreshed = t.vault.refresh_now(&first.id).await;
        (moved, status, refreshed)
    }
    .await;
    // Put the server back before asserting, so no later test meets it moved.
    move_to(s.issuer()).await;
    let (moved, status, refreshed) = moved;
    assert_eq!(moved.id, first.id, "the same account");
    assert_eq!(moved.issuer, s.tenant_issuer());
    assert_ne!(
        moved.client_id, first.client_id,
        "a registration of the new server"
    );
    assert_eq!(status, 200, "the new server's token passes");
    let refreshed = refreshed.expect("the refresh goes to the new server with its client");
    assert_eq!(refreshed.issuer, s.tenant_issuer());
    assert_eq!(refreshed.client_id, moved.client_id);
    let log = t.vault.activity(&first.id).expect("activity");
    assert!(
        log.iter()
            .any(|a| a.summary.contains("now names instead of")),
        "{:?}",
        log.iter().map(|a| &a.summary).collect::<Vec<_>>()
    );
}
