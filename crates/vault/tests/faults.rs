//! Faults (issue 6): the authorization server killed mid-refresh, the keyring
//! daemon killed mid-write, a full disk under the vault, the loopback port
//! already taken. Each ends in a clear state and message, with no account lost
//! or corrupted. Real keyring, real authorization server, real processes.
//! (Two app instances started at once: tests/e2e/faults.test.mjs.)

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use mcpauth_core::loopback::LoopbackHost;
use mcpauth_testkit::Servers;
use mcpauth_vault::{AccountStatus, Error, RedirectMode, SignInRequest};
use support::{probe, sign_in, test_vault, unique};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn the_authorization_server_killed_mid_refresh() {
    // Every answer takes 700 ms, so the refresh is surely in flight when the server dies.
    let servers = Servers::start(&["--delay-ms", "700"]);
    let t = test_vault();
    let account = sign_in(
        &t.vault,
        servers.mcp("current"),
        "ana",
        SignInRequest::default(),
    )
    .await;
    let before = t
        .vault
        .token_bundle(&account.id)
        .expect("read")
        .expect("tokens");

    let killed_at = std::sync::Mutex::new(None);
    let killer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        servers.kill();
        *killed_at.lock().expect("lock") = Some(Instant::now());
    };
    let (result, ()) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(t.vault.refresh_now(&account.id), killer)
    })
    .await
    .expect("the refresh ends after the server dies");
    let killed_at = killed_at.lock().expect("lock").expect("killed");
    let error = result.expect_err("no answer, no refresh");
    eprintln!(
        "AS killed mid-refresh: {error} (after {:?})",
        killed_at.elapsed()
    );
    assert!(
        matches!(error, Error::Protocol(ref e) if e.is_transient()),
        "a passing failure: {error}"
    );
    assert!(
        error.to_string().contains("could not reach"),
        "says what happened: {error}"
    );

    // Nothing lost: the same tokens, the record agreeing, the account waiting to retry.
    let after = t
        .vault
        .token_bundle(&account.id)
        .expect("read")
        .expect("tokens");
    assert_eq!(after.access_token, before.access_token);
    assert_eq!(after.refresh_token, before.refresh_token);
    assert_eq!(after.generation, before.generation);
    let record = t.vault.account(&account.id).expect("account");
    assert_eq!(record.generation, before.generation);
    match &record.status {
        AccountStatus::Error { message, retry_at } => {
            assert!(message.contains("could not reach"), "{message}");
            assert!(retry_at.is_some(), "it will be tried again");
        }
        other => panic!("expected a retryable error, found {other:?}"),
    }
    assert!(t.vault.integrity_ok().expect("integrity"));
    // The access token is still valid, so the account keeps working meanwhile.
    let token = t.vault.token(&account.id).await.expect("served");
    assert_eq!(token.secret(), before.access_token);
}

/// Runs a bash script in a private D-Bus session whose gnome-keyring the script
/// starts, kills and restarts itself (`start_keyring`, `$KEYRING`).
async fn in_private_keyring(
    t: &support::TestVault,
    script: &str,
    timeout: Duration,
) -> std::process::Output {
    let keyring_home = t.home.join("private-keyring");
    std::fs::create_dir_all(&keyring_home).expect("dir");
    let prelude = r#"
owner_pid() {
  gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.GetConnectionUnixProcessID org.freedesktop.secrets 2>/dev/null \
    | grep -o '[0-9]\+' | tail -1
}
start_keyring() {
  for _ in 1 2 3 4 5; do
    # After a kill, D-Bus may start a daemon by itself on the next call; that one
    # holds the collection locked (nobody types the password): stop it first.
    p=$(owner_pid)
    if [ -n "$p" ]; then kill -9 "$p" 2>/dev/null; sleep 0.1; fi
    printf pw | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
    KEYRING=$!
    # Ready when the login collection answers as unlocked.
    for _ in $(seq 40); do
      gdbus call --session --dest org.freedesktop.secrets \
        --object-path /org/freedesktop/secrets/collection/login \
        --method org.freedesktop.DBus.Properties.Get org.freedesktop.Secret.Collection Locked 2>/dev/null \
        | grep -q false && return 0
      sleep 0.05
    done
    kill -9 "$KEYRING" 2>/dev/null
  done
  return 1
}
"#;
    tokio::time::timeout(
        timeout,
        Command::new("dbus-run-session")
            .args(["--", "bash", "-c", &format!("{prelude}\n{script}")])
            .env("XDG_DATA_HOME", &keyring_home)
            .env("MCPAUTH_HOME", &t.home)
            .env("MCPAUTH_KEYRING_SERVICE", &t.service)
            .env("MCPAUTH_KEYRING_TIMEOUT", "3")
            .env("PROBE", probe())
            .env("MCP", mcpauth_testkit::servers().mcp("current"))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the script does not hang")
    .expect("dbus-run-session and gnome-keyring are installed (scripts/setup.sh)")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_keyring_daemon_killed_mid_write_twenty_times() {
    let t = test_vault();
    // Each round: a process refreshing in a loop (a keyring write per refresh),
    // the keyring daemon SIGKILLed at a random moment, the process's end timed,
    // the daemon restarted from its files, and the account checked.
    let script = r#"
start_keyring || { echo "no keyring"; exit 3; }
id=$("$PROBE" sign-in "$MCP" kim) || { echo "no sign-in"; exit 4; }
for round in $(seq 20); do
  "$PROBE" refresh-loop "$id" >/dev/null 2>"$MCPAUTH_HOME/probe.err" &
  probe=$!
  sleep "0.$(( RANDOM % 40 + 5 ))"
  kill -9 "$KEYRING"; wait "$KEYRING" 2>/dev/null
  t0=$(date +%s%N)
  wait "$probe"; rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "round=$round probe_rc=$rc probe_ms=$ms probe_err=$(tail -c 300 "$MCPAUTH_HOME/probe.err" | tr '\n' ' ')"
  start_keyring || { echo "keyring did not restart"; exit 5; }
  state=$("$PROBE" check "$id" 2>&1) || { echo "round=$round CORRUPT $state"; exit 6; }
  echo "round=$round state=$state"
  if [ "$state" = needs-sign-in ]; then
    id=$("$PROBE" sign-in "$MCP" kim) || { echo "no sign-in"; exit 4; }
  fi
done
echo done
"#;
    let out = in_private_keyring(&t, script, Duration::from_secs(400)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("done"),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut usable = 0;
    let mut needs = 0;
    for line in stdout.lines() {
        if line.contains("probe_rc=") {
            // The process ends by itself with a clear keyring error, in about the timeout.
            assert!(!line.contains("probe_rc=0"), "{line}");
            let ms: u64 = line
                .split("probe_ms=")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse().ok())
                .expect("ms");
            assert!(ms < 8000, "the process hung for {ms} ms: {line}");
            assert!(
                line.contains("keyring"),
                "the error names the keyring: {line}"
            );
        }
        if line.contains("state=usable") {
            usable += 1;
        }
        if line.contains("state=needs-sign-in") {
            needs += 1;
        }
    }
    eprintln!("keyring killed 20 times: {usable} usable, {needs} needs sign-in, 0 corrupt");
    assert_eq!(usable + needs, 20, "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_cleanly_and_loses_nothing() {
    let t = test_vault();
    let account = sign_in(
        &t.vault,
        mcpauth_testkit::servers().mcp("current"),
        "dot",
        SignInRequest::default(),
    )
    .await;
    let id = account.id.clone();
    let before = t.vault.token_bundle(&id).expect("read").expect("tokens");
    let full = std::env::temp_dir().join(unique("mcpauth-full-disk"));
    std::fs::create_dir_all(full.join("home")).expect("dir");
    // In a private mount namespace (root or not): a 2 MiB tmpfs holding a copy of
    // the vault's home, filled to the last byte, then the vault at work on it.
    let script = format!(
        r#"
set -u
mount -t tmpfs -o size=2m tmpfs "$FULL" || {{ echo "cannot mount a tmpfs"; exit 3; }}
cp -a "$SOURCE"/. "$FULL"/
export MCPAUTH_HOME="$FULL"
dd if=/dev/zero of="$FULL/filler" bs=4096 >/dev/null 2>&1
echo "free=$(df --output=avail "$FULL" | tail -1)"
echo "token=$("$PROBE" token {id} 1 2>&1)"
"$PROBE" refresh {id} >/dev/null 2>"$FULL/../err-refresh" ; echo "refresh_rc=$?"
echo "refresh_err=$(cat "$FULL/../err-refresh")"
echo "token_after=$("$PROBE" token {id} 1 2>&1)"
"$PROBE" sign-in "$MCP" eve >/dev/null 2>"$FULL/../err-signin" ; echo "signin_rc=$?"
echo "signin_err=$(cat "$FULL/../err-signin")"
rm -f "$FULL/filler"
echo "after=$("$PROBE" check {id} 2>&1)"
"$PROBE" refresh {id} >/dev/null 2>&1 ; echo "refresh_after_rc=$?"
echo "after_refresh=$("$PROBE" check {id} 2>&1)"
echo "accounts=$("$PROBE" list | grep -o '"id"' | wc -l)"
"#
    );
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        Command::new("unshare")
            .args(["-rm", "bash", "-c", &script])
            .env("FULL", full.join("home"))
            .env("SOURCE", &t.home)
            .env("MCPAUTH_KEYRING_SERVICE", &t.service)
            .env("PROBE", probe())
            .env("MCP", mcpauth_testkit::servers().mcp("current"))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("no hang")
    .expect("unshare (util-linux) is installed");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let shown = stdout.replace(&before.access_token, "<the token>");
    eprintln!("{shown}\n{}", String::from_utf8_lossy(&out.stderr));
    let field = |name: &str| -> String {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in\n{shown}"))
            .to_string()
    };
    assert!(out.status.success(), "{shown}");
    assert!(field("free").trim() == "0", "the disk was full: {shown}");
    // The grant in hand is served on the full disk, before and after the
    // refresh that could not be recorded.
    for when in ["token", "token_after"] {
        assert!(
            field(when) == before.access_token,
            "{when}: the valid token is served from a full disk: {}",
            field(when).replace(&before.access_token, "<the token>")
        );
    }
    // Refusals that say what is wrong.
    assert_ne!(
        field("refresh_rc"),
        "0",
        "a refresh cannot be recorded on a full disk"
    );
    let refresh_err = field("refresh_err");
    assert!(
        refresh_err.contains("disk is full")
            && refresh_err.contains("free some space")
            && refresh_err.contains(&full.join("home").display().to_string()),
        "the message names the full disk, its path and what to do: {refresh_err}"
    );
    assert!(
        !refresh_err.contains(&before.access_token),
        "no secret in the message"
    );
    assert_ne!(field("signin_rc"), "0");
    let signin_err = field("signin_err");
    assert!(
        signin_err.contains("full") || signin_err.contains("space"),
        "{signin_err}"
    );
    // With space again: the account works, nothing half-written, no half account.
    assert_eq!(field("after"), "usable", "{shown}");
    assert_eq!(field("refresh_after_rc"), "0", "{shown}");
    assert_eq!(field("after_refresh"), "usable", "{shown}");
    assert_eq!(field("accounts").trim(), "1", "{shown}");
    let _ = std::fs::remove_dir_all(&full);
}

#[tokio::test]
async fn a_taken_loopback_port_is_a_clear_error_before_anything_is_sent() {
    let t = test_vault();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let servers = mcpauth_testkit::servers();
    let authorizations = || t.http.count("/auth?");
    let before = authorizations();
    let error = t
        .vault
        .begin_sign_in(SignInRequest {
            mcp_url: servers.mcp("current").to_string(),
            client: mcpauth_vault::ClientChoice {
                client_id: Some("mcpauth-public".into()),
                ..Default::default()
            },
            redirect: RedirectMode::Loopback {
                port,
                host: LoopbackHost::Ip,
            },
            ..Default::default()
        })
        .await
        .expect_err("the port is taken");
    let text = error.to_string();
    assert!(
        text.contains(&port.to_string()) && text.contains("in use"),
        "names the port and the cause: {text}"
    );
    assert_eq!(
        authorizations(),
        before,
        "no authorization request was made"
    );
    assert_eq!(t.vault.sign_ins_pending(), 0, "no sign-in left pending");
    assert!(t.vault.list().expect("list").is_empty());
    drop(taken);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_process_keeps_working_after_the_keyring_daemon_restarts() {
    // On Linux a process keeps one Secret Service connection and session open
    // (secrets.rs). A restarted daemon knows nothing of that session: the next
    // operation must notice, reconnect and succeed, not fail for good.
    let t = test_vault();
    let script = r#"
start_keyring || { echo "no keyring"; exit 3; }
id=$("$PROBE" sign-in "$MCP" lee) || { echo "no sign-in"; exit 4; }
coproc PROBE_PROC { "$PROBE" refresh-per-line "$id" 2>&1; }
echo go >&"${PROBE_PROC[1]}"; read -r -t 20 first <&"${PROBE_PROC[0]}"; echo "before: $first"
kill -9 "$KEYRING"; wait "$KEYRING" 2>/dev/null
start_keyring || { echo "keyring did not restart"; exit 5; }
echo go >&"${PROBE_PROC[1]}"; read -r -t 20 second <&"${PROBE_PROC[0]}"; echo "after: $second"
echo go >&"${PROBE_PROC[1]}"; read -r -t 20 third <&"${PROBE_PROC[0]}"; echo "again: $third"
exec {PROBE_PROC[1]}>&-
wait "$PROBE_PROC_PID"
state=$("$PROBE" check "$id" 2>&1); echo "state=$state"
"#;
    let out = in_private_keyring(&t, script, Duration::from_secs(120)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let generation = |label: &str| -> i64 {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in\n{stdout}"));
        line.split("generation=")
            .nth(1)
            .and_then(|g| g.trim().parse().ok())
            .unwrap_or_else(|| panic!("{label} did not refresh: {line}"))
    };
    let (before, after, again) = (
        generation("before:"),
        generation("after:"),
        generation("again:"),
    );
    assert!(before < after && after < again, "{stdout}");
    assert!(stdout.contains("state=usable"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_home_during_a_refresh_keeps_the_grant_and_names_the_path() {
    let t = test_vault();
    let account = sign_in(
        &t.vault,
        mcpauth_testkit::servers().mcp("current"),
        "ro",
        SignInRequest::default(),
    )
    .await;
    let id = account.id.clone();
    let before = t.vault.token_bundle(&id).expect("read").expect("tokens");
    let dir = std::env::temp_dir().join(unique("mcpauth-read-only"));
    std::fs::create_dir_all(dir.join("home")).expect("dir");
    // In a private mount namespace: a copy of the vault's home, mounted
    // read-only over itself (root ignores file modes, a read-only mount not).
    let script = format!(
        r#"
set -u
cp -a "$SOURCE"/. "$RO"/
mount --bind "$RO" "$RO" && mount -o remount,bind,ro "$RO" || {{ echo "cannot mount read-only"; exit 3; }}
export MCPAUTH_HOME="$RO"
touch "$RO/probe-write" 2>/dev/null && echo "writable=yes" || echo "writable=no"
echo "token=$("$PROBE" token {id} 1 2>&1)"
"$PROBE" refresh {id} >/dev/null 2>"$RO/../err-refresh" ; echo "refresh_rc=$?"
echo "refresh_err=$(cat "$RO/../err-refresh")"
echo "token_after=$("$PROBE" token {id} 1 2>&1)"
mount -o remount,bind,rw "$RO"
echo "after=$("$PROBE" check {id} 2>&1)"
"#
    );
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        Command::new("unshare")
            .args(["-rm", "bash", "-c", &script])
            .env("RO", dir.join("home"))
            .env("SOURCE", &t.home)
            .env("MCPAUTH_KEYRING_SERVICE", &t.service)
            .env("PROBE", probe())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("no hang")
    .expect("unshare (util-linux) is installed");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let shown = stdout.replace(&before.access_token, "<the token>");
    eprintln!("{shown}\n{}", String::from_utf8_lossy(&out.stderr));
    let field = |name: &str| -> String {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in\n{shown}"))
            .to_string()
    };
    assert!(out.status.success(), "{shown}");
    assert_eq!(field("writable"), "no", "the home was read-only");
    // The grant in hand keeps working: the valid token is served.
    assert!(
        field("token") == before.access_token,
        "the valid token is served from a read-only home: {}",
        field("token").replace(&before.access_token, "<the token>")
    );
    // A refresh cannot be recorded: refused, naming the path and the cause.
    assert_ne!(field("refresh_rc"), "0", "{shown}");
    let refresh_err = field("refresh_err");
    let home = dir.join("home");
    assert!(
        refresh_err.contains(&home.display().to_string()) && refresh_err.contains("read-only"),
        "the message names the read-only home: {refresh_err}"
    );
    assert!(
        !refresh_err.contains(&before.access_token),
        "no secret in the message"
    );
    // And still served after the failed refresh: nothing was spent or lost.
    assert!(
        field("token_after") == before.access_token,
        "still served after the failed refresh: {}",
        field("token_after").replace(&before.access_token, "<the token>")
    );
    // Writable again: refreshes, record and keyring agree.
    assert_eq!(field("after"), "usable", "{shown}");
    let _ = std::fs::remove_dir_all(&dir);
}
