//! `mcpauth login --device`: the device authorization grant (RFC 8628)
//! against oidc-provider's deviceFlow feature (tests/servers/device.mjs).
//! The person is Chromium on the verification page the CLI prints
//! (tests/browser/approve.mjs in its device mode): the CLI itself opens no
//! browser.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use mcpauth_testkit::servers;
use support::{repo, Env};

/// A `login --device` in progress, and what it printed so far.
struct DeviceLogin {
    child: Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl DeviceLogin {
    fn start(env: &Env, extra: &[&str]) -> Self {
        let mut child = env
            .std_cmd()
            .args(["login", servers().mcp("current"), "--device"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mcpauth login --device");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { return };
                let mut all = sink.lock().unwrap_or_else(|e| e.into_inner());
                all.push_str(&line);
                all.push('\n');
            }
        });
        Self { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The verification link with the code in it, once printed.
    fn link(&self) -> String {
        let started = Instant::now();
        loop {
            let printed = self.stderr();
            let link = printed
                .split_whitespace()
                .find(|w| w.starts_with("http") && w.contains("/device?user_code="));
            if let Some(link) = link {
                return link.to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no verification link printed within 60 s:\n{printed}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the command to end (bounded): its success, stdout and stderr.
    fn finish(mut self) -> (bool, String, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(90) {
                let _ = self.child.kill();
                panic!("login --device did not end within 90 s:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        // The reader thread has the last lines once the pipe closed.
        std::thread::sleep(Duration::from_millis(100));
        (status.success(), stdout, self.stderr())
    }
}

/// The person on another device: approves (or, with `deny`, aborts) on the
/// verification page.
fn approve(link: &str, deny: bool) {
    let mut c = std::process::Command::new("node");
    c.arg(repo().join("tests/browser/approve.mjs"))
        .arg(link)
        .env("MCPAUTH_TEST_USER", "alice");
    if deny {
        c.env("MCPAUTH_TEST_DENY", "1");
    }
    let out = c.output().expect("node approve.mjs");
    assert!(
        out.status.success(),
        "the browser could not get through the device pages:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_person_approves_a_code_and_the_grant_is_kept_like_any_other() {
    let env = Env::new();
    let login = DeviceLogin::start(&env, &["--json"]);
    let link = login.link();
    let printed = login.stderr();
    assert!(printed.contains("and enter the code"), "{printed}");
    let code = link.split("user_code=").nth(1).expect("code in the link");
    assert!(
        printed.contains(&format!("\n  {code}\n")),
        "the code is printed on its own line: {printed}"
    );
    approve(&link, false);
    let (ok, stdout, stderr) = login.finish();
    assert!(ok, "{stderr}");
    assert!(stderr.contains("Signed in:"), "{stderr}");
    let account: serde_json::Value = serde_json::from_str(&stdout).expect("--json");
    assert_eq!(account["kind"], "user", "{account}");
    assert_eq!(account["subject"], "alice", "{account}");
    assert!(
        account["granted_scopes"]
            .as_str()
            .is_some_and(|s| s.contains("mcp:read")),
        "{account}"
    );
    assert_eq!(env.browser_runs(), 0, "the CLI opened no browser");
    assert!(
        !stderr.contains(&env.refresh_token(account["id"].as_str().expect("id"))),
        "no refresh token on stderr"
    );

    // Stored like any other grant: a token, a refresh, the proxy.
    let id = account["id"].as_str().expect("id");
    let first = env.token(id);
    env.cmd().args(["refresh", id]).assert().success();
    let second = env.token(id);
    assert_ne!(first, second, "the refresh token of the device grant works");
    let check = env.check("v1", None, Some("whoami"), &[servers().mcp("current")]);
    assert_eq!(check.ok("whoami")["sub"], "alice", "{}", check.stderr);
    assert_eq!(env.browser_runs(), 0, "the proxy used the device grant");
    assert_eq!(env.accounts().len(), 1);
}

#[test]
fn a_declined_code_stores_nothing_and_says_so() {
    let env = Env::new();
    let login = DeviceLogin::start(&env, &[]);
    approve(&login.link(), true);
    let (ok, _, stderr) = login.finish();
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("declined") && stderr.contains("access_denied"),
        "{stderr}"
    );
    assert!(env.accounts().is_empty(), "nothing stored");
}

#[test]
fn a_code_nobody_approves_expires_with_a_clear_error() {
    let env = Env::new();
    let client = servers().json["clients"]["device_short"].clone();
    let started = Instant::now();
    let login = DeviceLogin::start(
        &env,
        &["--client-id", client["client_id"].as_str().expect("client")],
    );
    let _ = login.link();
    let (ok, _, stderr) = login.finish();
    assert!(!ok, "{stderr}");
    let ttl = client["device_code_ttl"].as_u64().expect("ttl");
    assert!(
        stderr.contains("expired") && stderr.contains(&format!("after {ttl} s")),
        "{stderr}"
    );
    // Not before the code ran out: the server counts its life in whole
    // seconds (oidc-provider's `exp`), so it may end up to a second early.
    let took = started.elapsed();
    assert!(
        took + Duration::from_secs(1) >= Duration::from_secs(ttl),
        "ended {took:?} after the start, before the code's {ttl} s ran out\n{stderr}"
    );
    assert!(env.accounts().is_empty(), "nothing stored");
}

#[test]
fn device_goes_with_a_person_sign_in_only() {
    let env = Env::new();
    let out = env
        .cmd()
        .args([
            "login",
            servers().mcp("current"),
            "--device",
            "--grant",
            "client-credentials",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--device signs a person in"), "{stderr}");
    let out = env
        .cmd()
        .args([
            "login",
            servers().mcp("current"),
            "--device",
            "--no-browser",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
