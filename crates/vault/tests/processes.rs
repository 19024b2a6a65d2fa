//! The vault across processes: eight processes sharing one expired token, a
//! process killed at random points during refresh and sign-in, a keyring
//! that is absent or locked, and the background scheduler. Real keyring,
//! real authorization server (a private instance per test, so the server's
//! grant counters belong to the test alone).

mod support;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcpauth_core::registration::{ClientAuth, ClientRegistration};
use mcpauth_core::token::{revoke, TokenHint};
use mcpauth_testkit::{call_tool, Servers};
use mcpauth_vault::model::now_secs;
use mcpauth_vault::scheduler::{self, VaultEvent};
use mcpauth_vault::{AccountStatus, Error, SignInRequest, Vault};
use rand::Rng;
use support::{options, probe, sign_in, test_vault, TestVault};
use tokio::process::Command;

fn probe_command(t: &TestVault) -> Command {
    let mut command = Command::new(probe());
    command
        .env("MCPAUTH_HOME", &t.home)
        .env("MCPAUTH_KEYRING_SERVICE", &t.service)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_processes_share_one_refresh() {
    let servers = Servers::start(&[]);
    let t = test_vault();
    let account = sign_in(
        &t.vault,
        servers.mcp("current"),
        "alice",
        SignInRequest::default(),
    )
    .await;
    t.vault
        .expire_access_token(&account.id, now_secs() - 10)
        .expect("expire");
    let refreshes_before = servers.grants("refresh_token").await;

    let children: Vec<_> = (0..8)
        .map(|_| {
            probe_command(&t)
                .args(["token", &account.id, "25"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn probe")
        })
        .collect();
    let mut tokens = Vec::new();
    for child in children {
        let out = child.wait_with_output().await.expect("probe output");
        assert!(
            out.status.success(),
            "probe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokens.extend(
            String::from_utf8(out.stdout)
                .expect("utf8")
                .lines()
                .map(str::to_string),
        );
    }
    assert_eq!(tokens.len(), 200);
    assert_eq!(
        servers.grants("refresh_token").await,
        refreshes_before + 1,
        "exactly one refresh reached the server"
    );
    assert_eq!(
        servers.refused("refresh_token").await,
        0,
        "no invalid_grant"
    );
    tokens.sort();
    tokens.dedup();
    assert_eq!(
        tokens.len(),
        1,
        "every call returned the one refreshed token"
    );
    assert_eq!(
        call_tool(servers.mcp("current"), &tokens[0], "whoami")
            .await
            .status,
        200
    );
    let account = t.vault.account(&account.id).expect("account");
    assert!(matches!(account.status, AccountStatus::Active { .. }));
}

/// After a kill: the store opens, and the account is usable (its token works
/// at the MCP server) or marked as needing sign-in — nothing in between.
async fn check_after_kill(t: &TestVault, servers: &Servers, id: &str) -> bool {
    let vault =
        Vault::open(options(&t.home, &t.service, &t.http)).expect("the store opens after a kill");
    assert!(vault.integrity_ok().expect("integrity check"));
    // A plain read first: it must not leave the account shown as "refreshing" forever.
    if vault.token(id).await.is_ok() {
        let status = vault.account(id).expect("account").status;
        assert!(
            !matches!(status, AccountStatus::Refreshing),
            "stale refreshing status after a kill"
        );
    }
    match vault.refresh_now(id).await {
        Ok(account) => {
            let bundle = vault.token_bundle(id).expect("read").expect("tokens");
            assert_eq!(
                account.generation, bundle.generation,
                "record and keyring agree"
            );
            let status = call_tool(servers.mcp("current"), &bundle.access_token, "whoami")
                .await
                .status;
            assert_eq!(status, 200, "a usable account has a working token");
            true
        }
        Err(Error::NeedsSignIn { .. }) => {
            let status = vault.account(id).expect("account").status;
            assert!(
                matches!(status, AccountStatus::NeedsSignIn { .. }),
                "{status:?}"
            );
            false
        }
        Err(other) => panic!("after a kill the account is neither usable nor marked: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_during_refresh_fifty_times() {
    let servers = Servers::start(&[]);
    let t = test_vault();
    let account = sign_in(
        &t.vault,
        servers.mcp("current"),
        "kim",
        SignInRequest::default(),
    )
    .await;
    let (mut usable, mut marked) = (0, 0);
    for _ in 0..50 {
        let mut child = probe_command(&t)
            .args(["refresh-loop", &account.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn probe");
        let delay = rand::thread_rng().gen_range(20..400);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill().await.expect("SIGKILL");
        if check_after_kill(&t, &servers, &account.id).await {
            usable += 1;
        } else {
            marked += 1;
            // Sign in again so the next round has something to break.
            let again = sign_in(
                &t.vault,
                servers.mcp("current"),
                "kim",
                SignInRequest {
                    account: Some(account.id.clone()),
                    ..Default::default()
                },
            )
            .await;
            assert_eq!(again.id, account.id);
        }
    }
    eprintln!("killed during refresh 50 times: {usable} usable afterwards, {marked} marked as needing sign-in");
    assert_eq!(usable + marked, 50);
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_during_sign_in_fifty_times() {
    let servers = Servers::start(&[]);
    let t = test_vault();
    let mut completed = 0;
    for i in 0..50 {
        let mut child = probe_command(&t)
            .args(["sign-in", servers.mcp("current"), &format!("user{i}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn probe");
        let delay = rand::thread_rng().gen_range(50..900);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill().await.expect("SIGKILL");
        let vault = Vault::open(options(&t.home, &t.service, &t.http))
            .expect("the store opens after a kill");
        assert!(vault.integrity_ok().expect("integrity check"));
        // Every account that exists is whole: its tokens are in the keyring and work.
        let accounts = vault.list().expect("list");
        assert!(accounts.len() <= i + 1);
        for account in &accounts {
            let token = vault
                .token(&account.id)
                .await
                .expect("a stored account is complete");
            assert_eq!(
                call_tool(servers.mcp("current"), token.secret(), "whoami")
                    .await
                    .status,
                200
            );
        }
        completed = accounts.len();
    }
    eprintln!(
        "killed during sign-in 50 times: {completed} sign-ins had completed before their kill"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_absent_keyring_is_a_clear_error_within_five_seconds() {
    let t = test_vault();
    let account = sign_in(
        &t.vault,
        mcpauth_testkit::servers().mcp("current"),
        "lee",
        SignInRequest::default(),
    )
    .await;
    let started = Instant::now();
    let out = probe_command(&t)
        .args(["token", &account.id, "1"])
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/mcpauth-test-bus",
        )
        .output()
        .await
        .expect("probe");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no token without the keyring");
    assert!(stderr.contains("keyring"), "{stderr}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(
        !t.home.join("secrets.insecure.json").exists(),
        "nothing written in the keyring's place"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_keyring_is_a_clear_error_within_five_seconds() {
    let t = test_vault();
    // A private session: sign in there, lock its collection, then ask for the token.
    // With a display, gnome-keyring's unlock prompt appears and waits for a user who
    // never comes; the vault must give up with a clear error instead of hanging.
    let keyring_home = t.home.join("locked-keyring");
    std::fs::create_dir_all(&keyring_home).expect("dir");
    let script = format!(
        r#"printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
id=$("{probe}" sign-in "{mcp}" max) || exit 3
gdbus call --session --dest org.freedesktop.secrets --object-path /org/freedesktop/secrets \
  --method org.freedesktop.Secret.Service.Lock "['/org/freedesktop/secrets/collection/login']" >/dev/null || exit 4
start=$(date +%s%N)
"{probe}" token "$id" 1
echo "rc=$? elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))" >&2"#,
        probe = probe().display(),
        mcp = mcpauth_testkit::servers().mcp("current"),
    );
    let out = tokio::time::timeout(
        Duration::from_secs(90),
        Command::new("xvfb-run")
            .args(["-a", "dbus-run-session", "--", "bash", "-c", &script])
            .env("XDG_DATA_HOME", &keyring_home)
            .env("MCPAUTH_HOME", &t.home)
            .env("MCPAUTH_KEYRING_SERVICE", &t.service)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the probe does not hang")
    .expect("xvfb-run and dbus-run-session are installed (scripts/setup.sh)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("rc="))
        .unwrap_or_else(|| panic!("no result line (exit {:?}): {stderr}", out.status.code()));
    let elapsed_ms: u64 = line
        .rsplit('=')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("elapsed");
    eprintln!("locked keyring: {line}");
    assert!(line.starts_with("rc=1"), "{stderr}");
    assert!(
        stderr.contains("did not answer within") || stderr.contains("locked"),
        "the error names the cause: {stderr}"
    );
    assert!(elapsed_ms < 5000, "took {elapsed_ms} ms");
    assert!(
        !t.home.join("secrets.insecure.json").exists(),
        "nothing written in the keyring's place"
    );
    let vault = Vault::open(options(&t.home, &t.service, &t.http)).expect("open");
    for account in vault.list().expect("list") {
        assert!(
            matches!(account.status, AccountStatus::Active { .. }),
            "a locked keyring must not mark the account: {:?}",
            account.status
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduler_refreshes_ahead_of_expiry_and_stops_on_a_revoked_grant() {
    let servers = Servers::start(&["--access-token-ttl", "6"]);
    let t = test_vault();
    let account = sign_in(
        &t.vault,
        servers.mcp("current"),
        "nia",
        SignInRequest::default(),
    )
    .await;
    let first = t
        .vault
        .token_bundle(&account.id)
        .expect("read")
        .expect("tokens");
    let first_expiry = first.expires_at.expect("expiry");
    let mut opts = options(&t.home, &t.service, &t.http);
    opts.min_skew = Duration::from_secs(2);
    let vault = Arc::new(Vault::open(opts).expect("open"));
    let (task, mut events) = scheduler::spawn(vault.clone());

    let refreshed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(VaultEvent::Refreshed { account: id }) = events.recv().await {
                return id;
            }
        }
    })
    .await
    .expect("the scheduler refreshed");
    assert_eq!(refreshed, account.id);
    let updated = vault.account(&account.id).expect("account");
    assert!(
        updated.last_refresh_at.expect("refreshed at") < first_expiry,
        "refreshed before the old token expired"
    );
    let second = vault
        .token_bundle(&account.id)
        .expect("read")
        .expect("tokens");
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(
        call_tool(servers.mcp("current"), &second.access_token, "whoami")
            .await
            .status,
        200
    );

    // Revoke the grant behind the scheduler's back: it notices at the next refresh and stops.
    let discovery =
        mcpauth_core::discovery::discover(&t.http, servers.mcp("current"), &Default::default())
            .await
            .expect("discovery");
    let client =
        ClientRegistration::pre_registered(&discovery.issuer, "mcpauth-public", ClientAuth::None);
    revoke(
        &t.http,
        &discovery.metadata,
        &client,
        second.refresh_token.as_deref().expect("rt"),
        TokenHint::RefreshToken,
    )
    .await
    .expect("revoke");
    let reason = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(VaultEvent::NeedsSignIn { reason, .. }) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .expect("the scheduler saw the revoked grant");
    assert!(reason.contains("invalid_grant"), "{reason}");
    let refused = servers.refused("refresh_token").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        servers.refused("refresh_token").await,
        refused,
        "no further refresh attempts"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduler_sees_what_other_processes_do() {
    let t = test_vault();
    let account = sign_in(
        &t.vault,
        mcpauth_testkit::servers().mcp("current"),
        "oli",
        SignInRequest::default(),
    )
    .await;
    let vault = Arc::new(Vault::open(options(&t.home, &t.service, &t.http)).expect("open"));
    let (task, mut events) = scheduler::spawn(vault.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while events.try_recv().is_ok() {}
    // Another process refreshes the account.
    t.vault
        .expire_access_token(&account.id, now_secs() - 10)
        .expect("expire");
    let out = probe_command(&t)
        .args(["token", &account.id, "1"])
        .output()
        .await
        .expect("probe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(VaultEvent::Changed) = events.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(changed.is_ok(), "a change by another process was announced");
    assert!(
        vault.account(&account.id).expect("account").generation >= 3,
        "the scheduler's handle reads the other process's refresh"
    );
    task.abort();
}
