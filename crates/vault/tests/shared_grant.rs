//! One sign-in per authorization server (RFC 8707 §2.2), against the real
//! servers: oidc-provider, with the client `mcpauth-shared` whose grants
//! cover every MCP server on it (tests/servers/as.mjs), and with its own
//! policy for every other client, where a refresh token serves only the
//! resources it was granted for and a refusal spends it.

mod support;

use mcpauth_core::scopes::Scopes;
use mcpauth_testkit::{call_tool, jwt_claims, servers};
use mcpauth_vault::model::now_secs;
use mcpauth_vault::{Account, AccountStatus, ClientChoice, Error, SharedSignIn, SignInRequest};
use support::test_vault;

fn to(url: &str) -> SignInRequest {
    SignInRequest {
        mcp_url: url.into(),
        ..Default::default()
    }
}

fn with_client(client_id: &str) -> SignInRequest {
    SignInRequest {
        client: ClientChoice {
            client_id: Some(client_id.into()),
            ..Default::default()
        },
        scopes: Some(Scopes::parse("mcp:read mcp:write")),
        ..Default::default()
    }
}

/// The server at `url` takes `token`, a token for it alone. (The servers on
/// SDK 2.x answer this 2025-11-25 client 400 after the token is checked; a
/// token they refuse gets 401.)
async fn works_at(url: &str, token: &str) {
    let call = call_tool(url, token, "whoami").await;
    assert!(
        call.status == 200 || (url.contains("/ts2/") && call.status == 400),
        "{url} refused the token: {} {:?}",
        call.status,
        call.www_authenticate
    );
    assert_eq!(jwt_claims(token)["aud"], url, "a token for {url} alone");
}

fn added(outcome: SharedSignIn) -> (Account, Account) {
    match outcome {
        SharedSignIn::Added { account, holder } => (*account, *holder),
        other => panic!("expected an account added with the shared sign-in, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_on_the_same_authorization_server_is_added_with_the_first_ones_sign_in() {
    let t = test_vault();
    let (current, ts1, ts2) = (
        servers().mcp("current"),
        servers().mcp("ts1"),
        servers().mcp("ts2"),
    );
    let holder = support::sign_in(&t.vault, current, "tess", with_client("mcpauth-shared")).await;

    // Unprompted, a server that never accepted such a refresh is not asked:
    // the answer says how to ask, and nothing is stored.
    match t.vault.sign_in_with_shared_grant(&to(ts2), None).await {
        Ok(SharedSignIn::NotTried(Some(why))) => assert!(
            why.contains(&format!("--through {}", holder.id)),
            "says how to share it: {why}"
        ),
        other => panic!("expected NotTried, got {other:?}"),
    }
    assert_eq!(t.vault.list().expect("list").len(), 1);

    let (second, by) = added(
        t.vault
            .sign_in_with_shared_grant(&to(ts2), Some(&holder.id))
            .await
            .expect("shared sign-in"),
    );
    assert_eq!(by.id, holder.id);
    assert_eq!(second.grant_holder.as_deref(), Some(holder.id.as_str()));
    assert_eq!(second.client_id, "mcpauth-shared");
    assert_eq!(second.subject.as_deref(), Some("tess"), "the same person");
    assert!(
        !second.has_refresh_token,
        "the refresh token stays with the holder"
    );
    let first_token = t.vault.token(&second.id).await.expect("token");
    works_at(ts2, first_token.secret()).await;

    // The server rotated the holder's refresh token: the new one was kept,
    // or this refresh would be refused (and the grant revoked as a replay).
    let holder = t
        .vault
        .refresh_now(&holder.id)
        .await
        .expect("holder refresh");
    works_at(
        current,
        t.vault.token(&holder.id).await.expect("token").secret(),
    )
    .await;

    // Expired, the shared account refreshes with the holder's refresh token,
    // and the holder's next refresh still works.
    t.vault
        .expire_access_token(&second.id, now_secs() - 5)
        .expect("expire");
    let renewed = t.vault.token(&second.id).await.expect("shared refresh");
    assert_ne!(renewed.secret(), first_token.secret());
    works_at(ts2, renewed.secret()).await;
    let log = t.vault.activity(&second.id).expect("activity");
    assert!(
        log.iter()
            .any(|a| a.summary == format!("refreshed with the sign-in of account {}", holder.id)),
        "{:?}",
        log.iter().map(|a| &a.summary).collect::<Vec<_>>()
    );
    t.vault.refresh_now(&holder.id).await.expect("holder again");

    // The server accepted once: the next server is added unprompted.
    let (third, _) = added(
        t.vault
            .sign_in_with_shared_grant(&to(ts1), None)
            .await
            .expect("unprompted shared sign-in"),
    );
    works_at(ts1, t.vault.token(&third.id).await.expect("token").secret()).await;

    // The holder signs in again (same person, same client): the accounts
    // that share its grant share the new one.
    let holder = support::sign_in(
        &t.vault,
        current,
        "tess",
        SignInRequest {
            account: Some(holder.id.clone()),
            ..with_client("mcpauth-shared")
        },
    )
    .await;
    t.vault
        .expire_access_token(&third.id, now_secs() - 5)
        .expect("expire");
    let renewed = t.vault.token(&third.id).await.expect("still shared");
    works_at(ts1, renewed.secret()).await;

    // Signing out a sharing account leaves the holder's grant alone: its
    // access token is not revoked, which could end the whole grant.
    let report = t.vault.sign_out(&third.id).await.expect("sign out");
    assert!(
        matches!(&report.access_token, Some(Err(why)) if why.contains("left to expire")),
        "{report:?}"
    );
    assert_eq!(report.refresh_token, None, "it held none");
    t.vault
        .refresh_now(&holder.id)
        .await
        .expect("the holder is unaffected");

    // Signing out the holder ends the sharing accounts' sign-in, and says why.
    let report = t.vault.sign_out(&holder.id).await.expect("sign out");
    assert_eq!(report.shared_ended, vec![second.id.clone()]);
    for id in [&second.id] {
        let account = t.vault.account(id).expect("still listed");
        match &account.status {
            AccountStatus::NeedsSignIn { reason } => assert!(
                reason.contains(&holder.id) && reason.contains("signed out"),
                "{reason}"
            ),
            other => panic!("expected needs sign-in, got {other:?}"),
        }
        assert!(matches!(
            t.vault.token(id).await,
            Err(Error::NeedsSignIn { .. })
        ));
    }
}

#[tokio::test]
async fn a_server_that_refuses_is_remembered_and_what_it_cost_is_said() {
    let t = test_vault();
    let (current, ts2) = (servers().mcp("current"), servers().mcp("ts2"));
    // oidc-provider's own policy: the grant covers `current` alone, and a
    // refused refresh has spent the refresh token (tests/servers/smoke.mjs).
    let holder = support::sign_in(&t.vault, current, "ulla", with_client("mcpauth-public")).await;
    let (reason, after) = match t
        .vault
        .sign_in_with_shared_grant(&to(ts2), Some(&holder.id))
        .await
    {
        Ok(SharedSignIn::Refused { reason, holder }) => (reason, *holder),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(reason.contains("invalid_target"), "{reason}");
    assert_eq!(
        t.vault.list().expect("list").len(),
        1,
        "no account was made"
    );
    // What the refusal cost is found out at once, not at the next refresh.
    assert!(
        reason.contains(&format!(
            "the sign-in of account {} no longer works",
            holder.id
        )),
        "{reason}"
    );
    assert!(
        matches!(after.status, AccountStatus::NeedsSignIn { .. }),
        "{:?}",
        after.status
    );

    // Signed in again, the holder is not offered to that server unprompted.
    let holder = support::sign_in(
        &t.vault,
        current,
        "ulla",
        SignInRequest {
            account: Some(holder.id.clone()),
            ..with_client("mcpauth-public")
        },
    )
    .await;
    assert!(matches!(holder.status, AccountStatus::Active { .. }));
    match t.vault.sign_in_with_shared_grant(&to(ts2), None).await {
        Ok(SharedSignIn::NotTried(Some(why))) => {
            assert!(
                why.contains("refused a refresh token for another server before"),
                "{why}"
            )
        }
        other => panic!("expected NotTried, got {other:?}"),
    }
    assert_eq!(t.vault.list().expect("list").len(), 1);
}

#[tokio::test]
async fn with_several_people_signed_in_there_the_user_says_whose_sign_in_to_share() {
    let t = test_vault();
    let s = servers();
    let mut holders = Vec::new();
    for (server, user, next) in [("current", "wren", "ts1"), ("lazy", "xena", "ts2")] {
        let holder =
            support::sign_in(&t.vault, s.mcp(server), user, with_client("mcpauth-shared")).await;
        added(
            t.vault
                .sign_in_with_shared_grant(&to(s.mcp(next)), Some(&holder.id))
                .await
                .expect("shared sign-in"),
        );
        holders.push(holder);
    }
    match t
        .vault
        .sign_in_with_shared_grant(&to(s.mcp("legacy")), None)
        .await
    {
        Ok(SharedSignIn::NotTried(Some(why))) => {
            assert!(why.contains("several people"), "{why}");
            for h in &holders {
                assert!(why.contains(&h.id), "{why}");
            }
        }
        other => panic!("expected NotTried, got {other:?}"),
    }
    assert_eq!(t.vault.list().expect("list").len(), 4);
}

#[tokio::test]
async fn a_sign_in_on_another_authorization_server_or_bound_to_a_key_is_not_shared() {
    let t = test_vault();
    let holder = support::sign_in(
        &t.vault,
        servers().mcp("current"),
        "vera",
        with_client("mcpauth-shared"),
    )
    .await;
    for (url, expected) in [
        (servers().mcp("fallback"), "one authorization server"),
        (servers().mcp("dpop"), "DPoP"),
    ] {
        match t
            .vault
            .sign_in_with_shared_grant(&to(url), Some(&holder.id))
            .await
        {
            Err(Error::Invalid(why)) => assert!(why.contains(expected), "{why}"),
            other => panic!("expected a refusal to share for {url}, got {other:?}"),
        }
    }
    assert_eq!(t.vault.list().expect("list").len(), 1);
    // Nothing was sent: the holder's grant is as it was.
    let after = t.vault.account(&holder.id).expect("holder");
    assert_eq!(after.generation, holder.generation);
}

/// What the app's Add server offers for the server at `url`: the accounts
/// whose sign-in could add it, with why not and what was answered before.
async fn offers_for(t: &support::TestVault, url: &str) -> Vec<mcpauth_vault::ShareOffer> {
    let http = mcpauth_core::http::ReqwestHttp::new().expect("http");
    let found = mcpauth_core::discovery::discover(&http, url, &Default::default())
        .await
        .expect("discovery");
    t.vault.share_offers(&found).expect("offers")
}

#[tokio::test]
async fn add_server_is_offered_the_sign_ins_that_could_serve_it_and_told_why_not() {
    let t = test_vault();
    let holder = support::sign_in(
        &t.vault,
        servers().mcp("current"),
        "wendy",
        with_client("mcpauth-shared"),
    )
    .await;

    // Another server there: offered, never asked before.
    let offers = offers_for(&t, servers().mcp("ts2")).await;
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0].holder.id, holder.id);
    assert_eq!(offers[0].unavailable, None);
    assert_eq!(offers[0].answered_before, None);

    // Its own server (a second account there is the browser's), and a server
    // of another authorization server: nothing to offer.
    assert!(offers_for(&t, servers().mcp("current")).await.is_empty());
    assert!(offers_for(&t, servers().mcp("fallback")).await.is_empty());

    // A DPoP server: listed, with the reason it cannot be shared.
    let dpop = offers_for(&t, servers().mcp("dpop")).await;
    assert_eq!(dpop.len(), 1, "{dpop:?}");
    assert_eq!(
        dpop[0].unavailable.as_deref(),
        Some("this server takes tokens bound to a key of this device (DPoP), one key per account")
    );

    // Once the authorization server accepted, the next offer says so.
    added(
        t.vault
            .sign_in_with_shared_grant(&to(servers().mcp("ts2")), Some(&holder.id))
            .await
            .expect("shared sign-in"),
    );
    let offers = offers_for(&t, servers().mcp("ts1")).await;
    assert_eq!(
        offers.len(),
        1,
        "only the holder, not the account sharing it: {offers:?}"
    );
    assert!(matches!(&offers[0].answered_before, Some((true, d)) if d.contains("accepted")));
    // Nothing was sent for an offer: the holder's grant is as the sign-in left it.
    let generation = t.vault.account(&holder.id).expect("holder").generation;
    offers_for(&t, servers().mcp("ts1")).await;
    assert_eq!(
        t.vault.account(&holder.id).expect("holder").generation,
        generation
    );
}
