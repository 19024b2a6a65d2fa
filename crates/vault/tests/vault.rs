//! The vault in one process, against the real keyring (gnome-keyring's Secret
//! Service in a private D-Bus session) and the real servers of tests/servers.

mod support;

use std::time::Duration;

use mcpauth_core::registration::ClientRegistration;
use mcpauth_core::scopes::Scopes;
use mcpauth_core::secret::{ClientSecret, RefreshToken};
use mcpauth_core::token::{introspect, revoke, TokenHint};
use mcpauth_testkit::{call_tool, jwt_claims, servers};
use mcpauth_vault::secrets::{KeyringStore, SecretStore};
use mcpauth_vault::{
    AccountKind, AccountStatus, ClientCredential, Error, MachineAccountRequest, RedirectMode,
    SignInRequest, UpgradeOutcome,
};
use support::{assert_no_secret_on_disk, sign_in, test_vault, unique};

fn current() -> &'static str {
    servers().mcp("current")
}

#[tokio::test]
async fn every_secret_kind_round_trips_and_records_agree() {
    let t = test_vault();
    let user = sign_in(
        &t.vault,
        current(),
        "alice",
        SignInRequest {
            scopes: Some(Scopes::parse("openid mcp:read")),
            ..Default::default()
        },
    )
    .await;
    let basic_secret = servers().client_str("basic", "client_secret").to_string();
    let machine_secret = t
        .vault
        .add_machine_account(MachineAccountRequest {
            mcp_url: current().into(),
            name: Some("ci bot".into()),
            client_id: "mcpauth-basic".into(),
            assertion: None,
            credential: Some(ClientCredential::Secret {
                value: basic_secret.clone(),
            }),
            scopes: Some(Scopes::parse("mcp:read")),
            authorization_server: None,
            probe: None,
        })
        .await
        .expect("machine account with a secret");
    let pem = servers().client_str("es256", "private_key_pem").to_string();
    let machine_key = t
        .vault
        .add_machine_account(MachineAccountRequest {
            mcp_url: current().into(),
            name: None,
            client_id: "mcpauth-es256".into(),
            assertion: None,
            credential: Some(ClientCredential::PrivateKey {
                pem_or_jwk: pem.clone(),
                alg: None,
            }),
            scopes: Some(Scopes::parse("mcp:read")),
            authorization_server: None,
            probe: None,
        })
        .await
        .expect("machine account with a private key");
    assert_eq!(machine_key.client_auth, "private_key_jwt");
    assert_eq!(machine_key.signing_alg.as_deref(), Some("ES256"));
    assert_eq!(machine_secret.kind, AccountKind::Machine);

    // The user account holds access, refresh and ID tokens, all in the keyring.
    let bundle = t
        .vault
        .token_bundle(&user.id)
        .expect("read")
        .expect("tokens");
    assert!(bundle.refresh_token.is_some() && bundle.id_token.is_some());
    assert_eq!(user.subject.as_deref(), Some("alice"));
    let mut secrets = vec![
        bundle.access_token.clone(),
        bundle.refresh_token.clone().unwrap_or_default(),
        bundle.id_token.clone().unwrap_or_default(),
    ];
    // The client credentials come back out of the keyring: refreshing needs them.
    for machine in [&machine_secret, &machine_key] {
        let before = t
            .vault
            .token_bundle(&machine.id)
            .expect("read")
            .expect("tokens");
        let refreshed = t
            .vault
            .refresh_now(&machine.id)
            .await
            .expect("client credentials again");
        let after = t
            .vault
            .token_bundle(&machine.id)
            .expect("read")
            .expect("tokens");
        assert_ne!(before.access_token, after.access_token);
        assert_eq!(refreshed.generation, after.generation);
        secrets.push(before.access_token.clone());
        secrets.push(after.access_token.clone());
    }
    // The user's refresh; every token it ever held goes on the list to look for.
    t.vault.refresh_now(&user.id).await.expect("refresh");
    let after = t
        .vault
        .token_bundle(&user.id)
        .expect("read")
        .expect("tokens");
    secrets.extend(
        [
            Some(after.access_token.clone()),
            after.refresh_token.clone(),
            after.id_token.clone(),
        ]
        .into_iter()
        .flatten(),
    );
    // The timeline shows each step's HTTP exchanges, redacted.
    let activity = t.vault.activity(&user.id).expect("activity");
    let of = |kind: &str| {
        activity
            .iter()
            .rev()
            .find(|a| a.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} entry in {activity:?}"))
    };
    let discovery = of("discovery");
    assert!(
        discovery
            .exchanges
            .iter()
            .any(|x| x.url.contains("/.well-known/oauth-protected-resource")
                && x.status == Some(200)),
        "{:?}",
        discovery.exchanges
    );
    let exchange_of = |kind: &str| {
        of(kind)
            .exchanges
            .iter()
            .find(|x| x.method == "POST" && x.url.ends_with("/token"))
            .unwrap_or_else(|| panic!("no token request in the {kind} entry"))
            .clone()
    };
    let code = exchange_of("sign_in");
    let sent = code.request_body.as_deref().expect("request body");
    assert!(
        sent.contains("grant_type=authorization_code")
            && sent.contains("code=[redacted]")
            && sent.contains("code_verifier=[redacted]"),
        "{sent}"
    );
    let answer = code.response_body.as_deref().expect("answer");
    assert!(
        answer.contains("\"access_token\": \"[redacted]\""),
        "{answer}"
    );
    assert!(answer.contains("\"id_token\": \"[redacted]\""), "{answer}");
    let refresh = exchange_of("refresh");
    assert_eq!(refresh.status, Some(200));
    assert!(
        refresh
            .request_body
            .as_deref()
            .is_some_and(|b| b.contains("refresh_token=[redacted]")),
        "{refresh:?}"
    );
    let basic = t.vault.activity(&machine_secret.id).expect("activity");
    let basic = basic
        .iter()
        .rev()
        .find(|a| a.kind == "refresh")
        .expect("the machine refresh");
    assert!(
        basic.exchanges[0]
            .request_headers
            .contains(&("authorization".to_string(), "Basic [redacted]".to_string())),
        "{:?}",
        basic.exchanges
    );
    // Records and secrets agree.
    for account in t.vault.list().expect("list") {
        let bundle = t
            .vault
            .token_bundle(&account.id)
            .expect("read")
            .expect("tokens");
        assert_eq!(account.expires_at, bundle.expires_at, "{}", account.id);
        assert_eq!(account.has_refresh_token, bundle.refresh_token.is_some());
        assert_eq!(account.generation, bundle.generation);
        assert_eq!(account.granted_scopes, bundle.scopes);
        assert!(matches!(account.status, AccountStatus::Active { .. }));
    }
    // Nothing secret on disk: the database, its WAL, the lock files.
    secrets.push(basic_secret);
    let key_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    secrets.push(key_body);
    let needles: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secret_on_disk(&t.home, &needles);
}

#[tokio::test]
async fn long_values_round_trip_and_split_values_leave_nothing_behind() {
    support::require_keyring();
    let service = unique("mcpauth-split");
    let long: String = (0..16 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let whole = KeyringStore::new(&service, Duration::from_secs(5));
    whole.set("big", &long).expect("16 KiB in one item");
    assert_eq!(
        whole.get("big").expect("get").as_deref(),
        Some(long.as_str())
    );
    whole.delete("big").expect("delete");
    assert_eq!(whole.get("big").expect("get"), None);
    // Split as on Windows, but against the real keyring.
    let split = KeyringStore::new(&service, Duration::from_secs(5)).with_chunk_limit(Some(1000));
    split.set("tokens", &long).expect("split write");
    assert_eq!(
        split.get("tokens").expect("joined").as_deref(),
        Some(long.as_str())
    );
    assert!(
        whole.get("tokens#17").expect("part").is_some(),
        "17 parts of 1000 characters"
    );
    split.set("tokens", "short now").expect("overwrite");
    assert_eq!(
        split.get("tokens").expect("get").as_deref(),
        Some("short now")
    );
    assert_eq!(
        whole.get("tokens#1").expect("part"),
        None,
        "old parts are removed"
    );
    split.delete("tokens").expect("delete");
    assert_eq!(split.get("tokens").expect("get"), None);
}

#[tokio::test]
async fn a_fresh_token_is_served_from_the_keyring_and_an_expired_one_refreshed_once() {
    let t = test_vault();
    let account = sign_in(&t.vault, current(), "carol", SignInRequest::default()).await;
    let first = t.vault.token(&account.id).await.expect("token");
    let second = t.vault.token(current()).await.expect("by server URL");
    assert_eq!(first.secret(), second.secret());
    assert_eq!(t.http.count("/token"), 1, "only the code exchange so far");

    let old_rt = t
        .vault
        .token_bundle(&account.id)
        .expect("read")
        .expect("b")
        .refresh_token
        .clone()
        .expect("rt");
    t.vault
        .expire_access_token(&account.id, mcpauth_vault::model::now_secs() - 10)
        .expect("expire");
    let fresh = t.vault.token(&account.id).await.expect("refreshed");
    assert_ne!(fresh.secret(), first.secret());
    assert_eq!(t.http.count("/token"), 2, "one refresh");
    assert_eq!(
        call_tool(current(), fresh.secret(), "whoami").await.status,
        200
    );
    let updated = t.vault.account(&account.id).expect("account");
    let bundle = t.vault.token_bundle(&account.id).expect("read").expect("b");
    assert_ne!(
        bundle.refresh_token.as_deref(),
        Some(old_rt.as_str()),
        "rotated refresh token stored"
    );
    assert_eq!(updated.generation, bundle.generation);
    assert!(updated.last_refresh_at.is_some());
    let kinds: Vec<String> = t
        .vault
        .activity(&account.id)
        .expect("log")
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(kinds, ["discovery", "sign_in", "refresh"], "{kinds:?}");
}

/// Counts the reads of the keyring it wraps.
struct CountingStore {
    inner: KeyringStore,
    gets: std::sync::atomic::AtomicUsize,
}

impl SecretStore for CountingStore {
    fn get(&self, name: &str) -> mcpauth_vault::Result<Option<String>> {
        self.gets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.get(name)
    }
    fn set(&self, name: &str, value: &str) -> mcpauth_vault::Result<()> {
        self.inner.set(name, value)
    }
    fn delete(&self, name: &str) -> mcpauth_vault::Result<()> {
        self.inner.delete(name)
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

#[tokio::test]
async fn a_fresh_token_is_served_from_memory_until_another_process_changes_it() {
    let t = test_vault();
    let store = std::sync::Arc::new(CountingStore {
        inner: KeyringStore::new(t.service.clone(), Duration::from_secs(4)),
        gets: Default::default(),
    });
    let vault = mcpauth_vault::Vault::open(support::options(&t.home, &t.service, &t.http))
        .expect("open")
        .with_secret_store(store.clone());
    let account = sign_in(&vault, current(), "grace", SignInRequest::default()).await;
    let reads = || store.gets.load(std::sync::atomic::Ordering::SeqCst);
    let before = reads();
    let first = vault.token(&account.id).await.expect("token");
    for _ in 0..20 {
        assert_eq!(
            vault.token(&account.id).await.expect("token").secret(),
            first.secret()
        );
    }
    assert_eq!(
        reads(),
        before,
        "no keyring read for a token this process wrote"
    );

    // Another process (another vault on the same home and keyring) refreshes:
    // the record's generation moves on, and this process reads the new bundle.
    let other = mcpauth_vault::Vault::open(support::options(&t.home, &t.service, &t.http))
        .expect("open the other");
    other
        .refresh_now(&account.id)
        .await
        .expect("refresh elsewhere");
    let theirs = other.token(&account.id).await.expect("their token");
    assert_ne!(theirs.secret(), first.secret());
    let ours = vault
        .token(&account.id)
        .await
        .expect("token after their refresh");
    assert_eq!(ours.secret(), theirs.secret(), "never the superseded token");
    assert!(
        reads() > before,
        "the changed generation sent it to the keyring"
    );
    let settled = reads();
    vault.token(&account.id).await.expect("token");
    assert_eq!(reads(), settled, "and then from memory again");

    // Signed out elsewhere: no token from memory.
    other.sign_out(&account.id).await.expect("sign out");
    assert!(
        vault.token(&account.id).await.is_err(),
        "a deleted account has no token"
    );
}

#[tokio::test]
async fn a_revoked_grant_marks_the_account_and_stops_refreshing() {
    let t = test_vault();
    let account = sign_in(&t.vault, current(), "dave", SignInRequest::default()).await;
    let rt = t
        .vault
        .token_bundle(&account.id)
        .expect("read")
        .expect("b")
        .refresh_token
        .clone()
        .expect("rt");
    let discovery = mcpauth_core::discovery::discover(&t.http, current(), &Default::default())
        .await
        .expect("discovery");
    let client = ClientRegistration::pre_registered(
        &discovery.issuer,
        "mcpauth-public",
        mcpauth_core::registration::ClientAuth::None,
    );
    revoke(
        &t.http,
        &discovery.metadata,
        &client,
        &rt,
        TokenHint::RefreshToken,
    )
    .await
    .expect("revoked out of band");
    t.vault
        .expire_access_token(&account.id, mcpauth_vault::model::now_secs() - 10)
        .expect("expire");

    let before = t.http.count("/token");
    let err = t.vault.token(&account.id).await.expect_err("grant gone");
    assert!(matches!(err, Error::NeedsSignIn { .. }), "{err}");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    assert_eq!(t.http.count("/token"), before + 1);
    // Asking again does not go to the server again.
    let err = t.vault.token(&account.id).await.expect_err("still gone");
    assert!(matches!(err, Error::NeedsSignIn { .. }));
    assert_eq!(
        t.http.count("/token"),
        before + 1,
        "no loop: the server is not asked again"
    );
    let status = t.vault.account(&account.id).expect("account").status;
    assert!(
        matches!(status, AccountStatus::NeedsSignIn { ref reason } if reason.contains("invalid_grant")),
        "{status:?}"
    );
    let log = t.vault.activity(&account.id).expect("log");
    assert!(log
        .iter()
        .any(|a| a.error.as_deref() == Some("invalid_grant")));
}

#[tokio::test]
async fn several_accounts_per_server_with_a_default() {
    let t = test_vault();
    let alice = sign_in(
        &t.vault,
        current(),
        "alice",
        SignInRequest {
            name: Some("work".into()),
            ..Default::default()
        },
    )
    .await;
    let bob = sign_in(
        &t.vault,
        current(),
        "bob",
        SignInRequest {
            name: Some("personal".into()),
            ..Default::default()
        },
    )
    .await;
    assert_ne!(alice.id, bob.id);
    assert_eq!(alice.id.len(), 8);
    assert_eq!(t.vault.account(current()).expect("default").id, alice.id);
    assert_eq!(t.vault.account("personal").expect("by name").id, bob.id);
    t.vault.set_default(&bob.id).expect("set default");
    assert_eq!(t.vault.account(current()).expect("default").id, bob.id);
    assert_eq!(
        jwt_claims(t.vault.token(current()).await.expect("token").secret())["sub"],
        "bob"
    );
    let err = t.vault.account("nope").expect_err("unknown");
    assert!(err.to_string().contains("mcpauth list"), "{err}");

    // Signing out of bob makes alice the default again.
    let report = t.vault.sign_out(&bob.id).await.expect("sign out");
    assert!(matches!(report.refresh_token, Some(Ok(()))));
    assert_eq!(t.vault.account(current()).expect("default").id, alice.id);
}

#[tokio::test]
async fn sign_out_revokes_and_deletes_everything() {
    let t = test_vault();
    let account = sign_in(&t.vault, current(), "erin", SignInRequest::default()).await;
    let rt = t
        .vault
        .token_bundle(&account.id)
        .expect("read")
        .expect("b")
        .refresh_token
        .clone()
        .expect("rt");
    let report = t.vault.sign_out(&account.id).await.expect("sign out");
    assert!(report.revocation_supported);
    assert_eq!(report.refresh_token, Some(Ok(())));
    // oidc-provider cannot revoke JWT access tokens; the report says so.
    assert!(
        matches!(&report.access_token, Some(Err(e)) if e.contains("unsupported_token_type")),
        "{report:?}"
    );
    assert!(!report.fully_revoked());
    assert!(t.vault.list().expect("list").is_empty());
    assert!(
        t.vault.token_bundle(&account.id).expect("read").is_none(),
        "keyring item deleted"
    );
    let discovery = mcpauth_core::discovery::discover(&t.http, current(), &Default::default())
        .await
        .expect("discovery");
    let introspector = ClientRegistration::pre_registered(
        &discovery.issuer,
        servers().client_str("introspector", "client_id"),
        mcpauth_core::registration::ClientAuth::SecretBasic(ClientSecret::new(
            servers().client_str("introspector", "client_secret"),
        )),
    );
    let answer = introspect(&t.http, &discovery.metadata, &introspector, &rt)
        .await
        .expect("introspect");
    assert!(!answer.active);
    let _ = RefreshToken::new(rt);
}

#[tokio::test]
async fn upgrade_falls_back_to_reauthorizing_the_same_account() {
    let t = test_vault();
    let account = sign_in(&t.vault, current(), "frank", SignInRequest::default()).await;
    assert_eq!(account.granted_scopes, "mcp:read");
    let outcome = t
        .vault
        .upgrade_by_refresh(&account.id, &Scopes::parse("mcp:write"))
        .await
        .expect("upgrade");
    let scopes = match outcome {
        UpgradeOutcome::NeedsReauthorization { scopes, reason } => {
            assert!(reason.contains("invalid_scope"), "{reason}");
            scopes
        }
        UpgradeOutcome::Granted(_) => panic!("oidc-provider does not widen on refresh"),
    };
    assert!(matches!(
        t.vault.account(&account.id).expect("a").status,
        AccountStatus::Active { .. }
    ));
    let upgraded = sign_in(
        &t.vault,
        current(),
        "frank",
        SignInRequest {
            account: Some(account.id.clone()),
            scopes: Some(scopes),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(upgraded.id, account.id, "the same account, not a new one");
    assert_eq!(upgraded.granted_scopes, "mcp:read mcp:write");
    assert!(upgraded.generation > account.generation);
    assert_eq!(t.vault.list().expect("list").len(), 1);
    let token = t.vault.token(&account.id).await.expect("token");
    assert_eq!(
        call_tool(current(), token.secret(), "write_note")
            .await
            .status,
        200
    );
}

/// Starts a sign-in whose answer the user pastes back (the deep-link redirect).
async fn begin_pasted(vault: &mcpauth_vault::Vault) -> mcpauth_vault::SignIn {
    vault
        .begin_sign_in(SignInRequest {
            mcp_url: current().into(),
            redirect: RedirectMode::Fixed("mcpauth://oauth/callback".into()),
            client: mcpauth_vault::ClientChoice {
                client_id: Some("mcpauth-public".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .expect("begin")
}

/// Plays `user` in the AS pages; returns where the browser ended.
async fn approve_as(sign_in: &mcpauth_vault::SignIn, user: &str) -> String {
    mcpauth_testkit::drive_login(&sign_in.authorization_url, "mcpauth://oauth/callback", user).await
}

#[tokio::test]
async fn completions_that_match_no_sign_in_are_refused() {
    let t = test_vault();
    let err = t
        .vault
        .complete_sign_in("http://127.0.0.1:9/callback?code=x&state=forged")
        .await
        .expect_err("unknown");
    assert!(matches!(err, Error::NoSuchSignIn), "{err}");
    assert!(err.to_string().contains("start the sign-in again"));
    let err = t
        .vault
        .complete_sign_in("http://127.0.0.1:9/callback?code=x")
        .await
        .expect_err("no state");
    assert!(err.to_string().contains("no state"), "{err}");

    // A paste flow: fixed redirect, completed from the URL; a second completion is refused.
    let sign_in = begin_pasted(&t.vault).await;
    assert!(
        sign_in.authorization_server_host.starts_with("127.0.0.1:"),
        "{}",
        sign_in.authorization_server_host
    );
    let landing = approve_as(&sign_in, "gina").await;
    let account = t.vault.complete_sign_in(&landing).await.expect("completes");
    assert_eq!(account.subject.as_deref(), Some("gina"));
    let err = t
        .vault
        .complete_sign_in(&landing)
        .await
        .expect_err("reused");
    assert!(err.to_string().contains("already used"), "{err}");

    // Cancelled sign-ins are refused too.
    let sign_in = begin_pasted(&t.vault).await;
    assert_eq!(t.vault.sign_ins_pending(), 1);
    let landing = approve_as(&sign_in, "gina").await;
    assert!(t.vault.cancel_sign_in(&sign_in.id));
    let err = t
        .vault
        .complete_sign_in(&landing)
        .await
        .expect_err("cancelled");
    assert!(matches!(err, Error::NoSuchSignIn), "{err}");
    assert_eq!(t.vault.list().expect("list").len(), 1);

    // A sign-in left pending past its timeout is refused as well.
    let mut opts = support::options(&t.home, &t.service, &t.http);
    opts.sign_in_timeout = Duration::from_millis(1);
    let hasty = mcpauth_vault::Vault::open(opts).expect("open");
    let sign_in = begin_pasted(&hasty).await;
    let landing = approve_as(&sign_in, "gina").await;
    let err = hasty.complete_sign_in(&landing).await.expect_err("expired");
    assert!(err.to_string().contains("start the sign-in again"), "{err}");
}

#[tokio::test]
async fn plaintext_storage_only_when_asked_and_it_says_so() {
    let t = test_vault();
    assert_eq!(t.vault.storage_backend(), "Secret Service");
    let home = t.home.join("plain");
    let mut options = support::options(&home, &t.service, &t.http);
    options.secret_backend = mcpauth_vault::SecretBackend::Plaintext;
    let plain = mcpauth_vault::Vault::open(options).expect("open");
    assert!(plain.storage_backend().contains("insecure"));
    let account = sign_in(&plain, current(), "hal", SignInRequest::default()).await;
    assert!(plain.token_bundle(&account.id).expect("read").is_some());
    assert!(home.join("secrets.insecure.json").exists());
}

/// A keyring item deleted behind MCP Auth's back, as a user would in
/// Seahorse (here with `secret-tool`, on the same Secret Service): the
/// account says it needs a sign-in and why; the other account keeps working.
#[tokio::test]
async fn a_keyring_item_deleted_behind_our_back_needs_a_sign_in_and_spares_the_others() {
    let t = test_vault();
    let lost = sign_in(&t.vault, current(), "gina", SignInRequest::default()).await;
    let kept = sign_in(&t.vault, current(), "hugo", SignInRequest::default()).await;
    let status = std::process::Command::new("secret-tool")
        .args([
            "clear",
            "service",
            &t.service,
            "username",
            &format!("{}/tokens", lost.id),
        ])
        .status()
        .expect("secret-tool");
    assert!(status.success(), "secret-tool clear");

    // Another process (a proxy, the app) reading the vault afresh.
    let other =
        mcpauth_vault::Vault::open(support::options(&t.home, &t.service, &t.http)).expect("open");
    let error = other
        .token(&lost.id)
        .await
        .expect_err("no tokens, no token");
    assert!(
        matches!(error, Error::SecretMissing { .. }),
        "a clear error: {error}"
    );
    assert!(error.to_string().contains("sign in again"), "{error}");
    match other.account(&lost.id).expect("the account stays").status {
        AccountStatus::NeedsSignIn { reason } => {
            assert!(reason.contains("keyring no longer holds"), "{reason}")
        }
        other => panic!("expected needs sign-in, found {other:?}"),
    }
    let again = other.token(&lost.id).await.expect_err("still none");
    assert!(
        again.to_string().contains("keyring no longer holds"),
        "{again}"
    );

    assert_eq!(other.list().expect("list").len(), 2, "nothing else lost");
    let token = other
        .token(&kept.id)
        .await
        .expect("the other account works");
    assert_eq!(
        Some(token.secret().to_string()),
        other
            .token_bundle(&kept.id)
            .expect("read")
            .map(|b| b.access_token.clone())
    );
}
