//! A hostile authorization server and MCP server (crates/testkit/src/hostile.rs)
//! against the real vault and keyring. For each misbehaviour: the refusal the
//! user sees, that no secret went where it must not, that nothing hung past the
//! timeout, and that the stored account is as it was.

mod support;

use std::time::{Duration, Instant};

use mcpauth_core::Error as Core;
use mcpauth_testkit::hostile::{Hostile, TokenMode};
use mcpauth_testkit::RecordingHttp;
use mcpauth_vault::{Account, AccountStatus, Error, SignInRequest, Vault};
use serde_json::{json, Value};
use support::{test_vault_with, TestVault};

/// A vault whose HTTP client gives up after `timeout`.
fn vault_with_timeout(timeout: Duration) -> TestVault {
    test_vault_with(RecordingHttp::with_timeout(timeout))
}

/// Signs in by dynamic registration, playing a browser that follows the
/// authorization endpoint's redirect back to the loopback listener.
async fn sign_in(vault: &Vault, server: &Hostile) -> Result<Account, Error> {
    let sign_in = vault
        .begin_sign_in(SignInRequest {
            mcp_url: server.mcp_url(),
            ..Default::default()
        })
        .await?;
    let url = sign_in.authorization_url.clone();
    let browser = async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let answer = client.get(&url).send().await.expect("authorize");
        let location = answer
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("a redirect back")
            .to_string();
        match client.get(location).send().await {
            Ok(page) => Some(page.text().await.unwrap_or_default()),
            Err(_) => None,
        }
    };
    let (account, page) = tokio::join!(vault.finish_sign_in(sign_in), browser);
    // The browser's page tells the same story as the app: never "Signed in"
    // for a sign-in that failed after the answer arrived.
    if let Some(page) = page {
        assert_eq!(
            page.contains("Signed in"),
            account.is_ok(),
            "page {page:?} for {account:?}"
        );
        if account.is_err() {
            assert!(page.contains("Sign-in failed"), "{page}");
        }
    }
    account
}

/// What must not change when a hostile answer is refused.
#[derive(Debug, PartialEq)]
struct Stored {
    access: String,
    refresh: Option<String>,
    generation: i64,
    expires_at: Option<i64>,
    granted: String,
}

fn stored(vault: &Vault, id: &str) -> Stored {
    let bundle = vault.token_bundle(id).expect("read").expect("tokens kept");
    let account = vault.account(id).expect("account kept");
    assert_eq!(
        bundle.generation, account.generation,
        "record and keyring agree"
    );
    Stored {
        access: bundle.access_token.clone(),
        refresh: bundle.refresh_token.clone(),
        generation: bundle.generation,
        expires_at: account.expires_at,
        granted: account.granted_scopes,
    }
}

/// A signed-in account on a fresh hostile server.
async fn signed_in(t: &TestVault) -> (Hostile, Account, Stored) {
    let server = Hostile::start().await;
    let account = sign_in(&t.vault, &server).await.expect("sign-in");
    let before = stored(&t.vault, &account.id);
    server.clear_seen();
    (server, account, before)
}

/// The refusal, within `limit`, with the account's tokens untouched and the
/// account not marked as needing sign-in.
async fn refresh_is_refused(t: &TestVault, id: &str, before: &Stored, limit: Duration) -> Error {
    let started = Instant::now();
    let error = t
        .vault
        .refresh_now(id)
        .await
        .expect_err("the hostile answer is refused");
    assert!(
        started.elapsed() < limit,
        "refused after {:?}, past {limit:?}",
        started.elapsed()
    );
    assert_eq!(&stored(&t.vault, id), before, "the stored tokens changed");
    let status = t.vault.account(id).expect("account").status;
    assert!(
        !matches!(status, AccountStatus::NeedsSignIn { .. }),
        "a passing failure must not cost the sign-in: {status:?}"
    );
    // The next use still has the old, valid tokens.
    let token = t.vault.token(id).await.expect("the kept token is served");
    assert_eq!(token.secret(), before.access);
    error
}

#[tokio::test]
async fn a_redirected_token_request_is_not_followed() {
    let t = vault_with_timeout(Duration::from_secs(5));
    let (server, account, before) = signed_in(&t).await;
    let thief = Hostile::start().await;
    server.set(|b| b.token = TokenMode::RedirectTo(format!("{}/steal", thief.base())));
    let error = refresh_is_refused(&t, &account.id, &before, Duration::from_secs(5)).await;
    assert!(
        matches!(error, Error::Protocol(Core::UnexpectedRedirect { .. })),
        "{error}"
    );
    assert!(
        thief.seen().is_empty(),
        "the refresh token went to the redirect target"
    );
    let refresh = before.refresh.as_deref().expect("a refresh token");
    assert!(
        !error.to_string().contains(refresh),
        "the message holds the refresh token"
    );

    // A code exchange redirected elsewhere: the code and verifier stay home, no account.
    let before_count = t.vault.list().expect("list").len();
    let error = sign_in(&t.vault, &server).await.expect_err("refused");
    assert!(
        matches!(error, Error::Protocol(Core::UnexpectedRedirect { .. })),
        "{error}"
    );
    assert!(
        thief.seen().is_empty(),
        "the code went to the redirect target"
    );
    assert_eq!(t.vault.list().expect("list").len(), before_count);
}

#[tokio::test]
async fn mix_up_by_iss_discards_the_code() {
    let t = vault_with_timeout(Duration::from_secs(5));
    let server = Hostile::start().await;
    server.set(|b| b.authorize_iss = Some("https://other-as.example".into()));
    let error = sign_in(&t.vault, &server).await.expect_err("refused");
    assert!(
        matches!(error, Error::Protocol(Core::CallbackIssuerMismatch { .. })),
        "{error}"
    );
    assert_eq!(server.requests_to("/token"), 0, "the code was sent");
    assert!(t.vault.list().expect("list").is_empty());
}

#[tokio::test]
async fn mix_up_by_metadata_issuer_stops_discovery() {
    let t = vault_with_timeout(Duration::from_secs(5));
    let server = Hostile::start().await;
    server.set(|b| b.metadata_issuer = Some("https://other-as.example".into()));
    let error = sign_in(&t.vault, &server).await.expect_err("refused");
    assert!(
        matches!(error, Error::Protocol(Core::IssuerMismatch { .. })),
        "{error}"
    );
    for path in ["/register", "/authorize", "/token"] {
        assert_eq!(server.requests_to(path), 0, "something was sent to {path}");
    }
    assert!(t.vault.list().expect("list").is_empty());
}

#[tokio::test]
async fn plain_http_endpoints_on_a_public_host_are_refused() {
    let t = vault_with_timeout(Duration::from_secs(5));
    let server = Hostile::start().await;
    server.set(|b| b.plain_http_endpoints = true);
    let error = sign_in(&t.vault, &server).await.expect_err("refused");
    assert!(
        matches!(error, Error::Protocol(Core::InsecureUrl { .. })),
        "{error}"
    );
    assert!(
        !t.http.sent_to("hostile.invalid"),
        "a request went to the plain-http host"
    );
    assert_eq!(server.requests_to("/register"), 0);
    assert!(t.vault.list().expect("list").is_empty());

    // A challenge that points the metadata at plain http elsewhere is refused too.
    let server = Hostile::start().await;
    server.set(|b| {
        b.challenge = Some(
            "Bearer resource_metadata=\"http://hostile.invalid/.well-known/oauth-protected-resource\""
                .into(),
        )
    });
    let error = sign_in(&t.vault, &server).await.expect_err("refused");
    assert!(
        matches!(error, Error::Protocol(Core::InsecureUrl { .. })),
        "{error}"
    );
    assert!(!t.http.sent_to("hostile.invalid"));
}

#[tokio::test]
async fn oversized_endless_and_silent_answers_end_in_time() {
    let t = vault_with_timeout(Duration::from_secs(3));
    let (server, account, before) = signed_in(&t).await;

    server.set(|b| b.token = TokenMode::HugeBody(10 * 1024 * 1024));
    let error = refresh_is_refused(&t, &account.id, &before, Duration::from_secs(4)).await;
    assert!(
        matches!(error, Error::Protocol(Core::BodyTooLarge { .. })),
        "{error}"
    );

    server.set(|b| b.token = TokenMode::EndlessChunked);
    let error = refresh_is_refused(&t, &account.id, &before, Duration::from_secs(4)).await;
    assert!(
        matches!(
            error,
            Error::Protocol(Core::BodyTooLarge { .. } | Core::Timeout { .. })
        ),
        "{error}"
    );

    server.set(|b| b.token = TokenMode::NeverAnswer);
    let error = refresh_is_refused(&t, &account.id, &before, Duration::from_secs(5)).await;
    assert!(
        matches!(error, Error::Protocol(Core::Timeout { .. })),
        "{error}"
    );

    // A 10 MB metadata document during sign-in: refused, nothing stored.
    let count = t.vault.list().expect("list").len();
    server.set(|b| {
        b.token = TokenMode::Normal;
        b.huge_metadata = Some(10 * 1024 * 1024);
    });
    let started = Instant::now();
    let error = sign_in(&t.vault, &server).await.expect_err("refused");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(
        matches!(error, Error::Protocol(Core::BodyTooLarge { .. })),
        "{error}"
    );
    assert_eq!(t.vault.list().expect("list").len(), count);
}

#[tokio::test]
async fn crafted_challenges_neither_break_nor_misdirect() {
    let t = vault_with_timeout(Duration::from_secs(5));
    let long = "x".repeat(100_000);
    let cases = [
        // Unterminated quote, then a resource_metadata that must not be believed.
        "Bearer realm=\"unterminated, resource_metadata=\"https://evil.example/prm\"".to_string(),
        // Escapes and a comma inside a quoted value.
        r#"Bearer error="invalid_token", error_description="a \"quoted\", comma", scope="read""#
            .to_string(),
        // Many challenges, other schemes first, odd case.
        "Basic realm=\"x\", DPoP algs=\"ES256\", bEaReR Scope=read".to_string(),
        // A huge parameter.
        format!("Bearer scope=\"{long}\""),
        // Nothing usable at all.
        ",,,, = ,=\"".to_string(),
    ];
    for challenge in cases {
        let server = Hostile::start().await;
        server.set(|b| b.challenge = Some(challenge.clone()));
        let started = Instant::now();
        // With no usable resource_metadata the well-known locations are tried, so
        // sign-in may succeed; whatever happens it ends, and never reaches evil.example.
        let outcome = sign_in(&t.vault, &server).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        if let Err(e) = &outcome {
            let text = e.to_string();
            assert!(!text.is_empty() && text.len() < 2000, "{text}");
        }
        assert!(
            !t.http.sent_to("evil.example"),
            "followed a broken challenge"
        );
    }
}

#[tokio::test]
async fn metadata_for_another_resource_stops_before_the_authorization_server() {
    let t = vault_with_timeout(Duration::from_secs(5));
    let server = Hostile::start().await;
    server.set(|b| b.prm_resource = Some("https://other-resource.example/mcp".into()));
    let error = sign_in(&t.vault, &server).await.expect_err("refused");
    assert!(
        matches!(error, Error::Protocol(Core::ResourceMismatch { .. })),
        "{error}"
    );
    for path in [
        "/.well-known/oauth-authorization-server",
        "/register",
        "/authorize",
        "/token",
    ] {
        assert_eq!(server.requests_to(path), 0, "something was sent to {path}");
    }
    assert!(t.vault.list().expect("list").is_empty());
}

#[tokio::test]
async fn absurd_expiry_is_clamped_expired_or_refused() {
    let t = vault_with_timeout(Duration::from_secs(5));
    let now = mcpauth_vault::model::now_secs();

    // Huge: believed for at most ten years.
    let server = Hostile::start().await;
    server.set(|b| b.token = TokenMode::Expiry(json!(1e300)));
    let account = sign_in(&t.vault, &server).await.expect("signed in");
    let at = account.expires_at.expect("an expiry");
    assert!(at > now && at <= now + 10 * 365 * 24 * 3600 + 60, "{at}");

    // Negative: stored as already expired, so the next use refreshes.
    let server = Hostile::start().await;
    server.set(|b| b.token = TokenMode::Expiry(json!(-3600)));
    let account = sign_in(&t.vault, &server).await.expect("signed in");
    assert!(account.expires_at.expect("an expiry") <= now + 5);
    server.set(|b| b.token = TokenMode::Normal);
    let before = server.requests_to("/token");
    t.vault.token(&account.id).await.expect("refreshed");
    assert_eq!(
        server.requests_to("/token"),
        before + 1,
        "expired token refreshed once"
    );

    // Not a number: a refusal that names the field; the account keeps its tokens.
    let (server, account, kept) = signed_in(&t).await;
    server.set(|b| b.token = TokenMode::Expiry(json!("soon")));
    let error = refresh_is_refused(&t, &account.id, &kept, Duration::from_secs(5)).await;
    assert!(error.to_string().contains("expires_in"), "{error}");
    // And a sign-in with it stores nothing.
    let count = t.vault.list().expect("list").len();
    let error = sign_in(&t.vault, &server).await.expect_err("refused");
    assert!(error.to_string().contains("expires_in"), "{error}");
    assert_eq!(t.vault.list().expect("list").len(), count);
}

#[tokio::test]
async fn a_token_without_a_lifetime_is_refreshed_in_time_not_trusted_forever() {
    let t = vault_with_timeout(Duration::from_secs(5));
    let now = mcpauth_vault::model::now_secs();
    let server = Hostile::start().await;
    server.set(|b| b.token = TokenMode::Expiry(Value::Null));
    let account = sign_in(&t.vault, &server).await.expect("signed in");
    // An opaque token without expires_in: the bounded default, not "never".
    let at = account.expires_at.expect("an assumed expiry");
    let assumed = mcpauth_core::token::ASSUMED_LIFETIME_SECS as i64;
    assert!(
        (now + assumed - 5..=now + assumed + 5).contains(&at),
        "{at}"
    );
    // Once that lifetime has passed, the next use refreshes (once).
    t.vault
        .expire_access_token(&account.id, now - 1)
        .expect("age the token");
    let before = server.requests_to("/token");
    let old = stored(&t.vault, &account.id);
    let token = t.vault.token(&account.id).await.expect("refreshed");
    assert_eq!(server.requests_to("/token"), before + 1);
    assert_ne!(token.secret(), old.access);

    // Without a refresh token, past the assumed lifetime the token is still
    // served: only the server can say it is dead, and its 401 will.
    let server = Hostile::start().await;
    server.set(|b| {
        b.token = TokenMode::Expiry(Value::Null);
        b.no_refresh_token = true;
    });
    let account = sign_in(&t.vault, &server).await.expect("signed in");
    let kept = stored(&t.vault, &account.id);
    assert!(kept.refresh.is_none());
    t.vault
        .expire_access_token(&account.id, now - 1)
        .expect("age the token");
    let before = server.requests_to("/token");
    let token = t.vault.token(&account.id).await.expect("still served");
    assert_eq!(token.secret(), kept.access);
    assert_eq!(
        server.requests_to("/token"),
        before,
        "nothing to refresh with"
    );
    // The server's refusal is the verdict: now it needs sign-in.
    let error = t
        .vault
        .token_after_rejection(&account.id, &token)
        .await
        .expect_err("no way to renew");
    assert!(matches!(error, Error::NeedsSignIn { .. }), "{error}");
}

#[tokio::test]
async fn a_rotated_then_rejected_refresh_token_asks_for_sign_in_once() {
    let t = vault_with_timeout(Duration::from_secs(5));
    let (server, account, before) = signed_in(&t).await;
    server.set(|b| b.token = TokenMode::RotateThenReject);

    // First refresh rotates: the new refresh token is what is stored.
    t.vault.refresh_now(&account.id).await.expect("rotated");
    let rotated = stored(&t.vault, &account.id);
    assert_ne!(
        rotated.refresh, before.refresh,
        "the rotated token was stored"
    );
    assert!(rotated.generation > before.generation);

    // The server now rejects it: the account needs sign-in, with one request only.
    let asked = server.requests_to("/token");
    let error = t
        .vault
        .refresh_now(&account.id)
        .await
        .expect_err("rejected");
    assert!(matches!(error, Error::NeedsSignIn { .. }), "{error}");
    assert_eq!(server.requests_to("/token"), asked + 1);
    let status = t.vault.account(&account.id).expect("account").status;
    assert!(
        matches!(status, AccountStatus::NeedsSignIn { .. }),
        "{status:?}"
    );
    // Asking again does not hammer the server.
    for _ in 0..3 {
        let error = t
            .vault
            .token(&account.id)
            .await
            .expect_err("still needs sign-in");
        assert!(matches!(error, Error::NeedsSignIn { .. }), "{error}");
    }
    assert_eq!(
        server.requests_to("/token"),
        asked + 1,
        "retried a dead grant"
    );
    // The record is intact: signing in again replaces it cleanly.
    assert!(t.vault.integrity_ok().expect("integrity"));
}
