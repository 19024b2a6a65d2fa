//! What the command's test binaries share: a private MCP Auth (home and
//! keyring service) whose browser approves on the authorization server's own
//! pages, and the real binary run against it.
#![allow(dead_code)] // each test binary uses a part

use std::path::PathBuf;
use std::process::Command as StdCommand;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;
use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

static N: AtomicUsize = AtomicUsize::new(0);

/// A proxy process driven by hand: one JSON message per line each way.
pub struct RawProxy {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl RawProxy {
    pub async fn send(&mut self, message: &Value) {
        use tokio::io::AsyncWriteExt;
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .expect("write to the proxy");
        stdin.flush().await.expect("flush");
    }

    /// The next line the proxy writes (within two minutes: a sign-in may run).
    pub async fn recv(&mut self) -> Value {
        let line =
            tokio::time::timeout(std::time::Duration::from_secs(120), self.lines.next_line())
                .await
                .expect("an answer from the proxy within 120 s")
                .expect("read the proxy's stdout")
                .expect("the proxy closed stdout");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Sends a request and returns the answer with its id (skipping notifications).
    pub async fn call(&mut self, request: Value) -> Value {
        let id = request["id"].clone();
        self.send(&request).await;
        loop {
            let message = self.recv().await;
            if message.get("id") == Some(&id) && message.get("method").is_none() {
                return message;
            }
        }
    }

    /// Closes stdin, waits for the proxy to exit, and returns its stderr.
    pub async fn finish(mut self) -> String {
        use tokio::io::AsyncReadExt;
        drop(self.stdin.take());
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                e.read_to_string(&mut stderr),
            )
            .await;
        }
        let status = tokio::time::timeout(std::time::Duration::from_secs(30), self.child.wait())
            .await
            .expect("the proxy exits within 30 s of stdin closing")
            .expect("wait");
        assert!(status.success(), "the proxy failed: {status}\n{stderr}");
        stderr
    }
}

/// What a run of `check.mjs` printed.
pub struct Check {
    pub summary: Value,
    /// The proxy's stderr (and the client's).
    pub stderr: String,
}

impl Check {
    /// The result of a step; panics with everything seen when it failed.
    pub fn ok(&self, step: &str) -> &Value {
        let s = &self.summary["steps"][step];
        match s.get("ok") {
            Some(v) => v,
            None => panic!(
                "step {step} failed: {s}\nsummary: {}\nstderr:\n{}",
                self.summary, self.stderr
            ),
        }
    }

    /// The error of a step that was expected to fail.
    pub fn error(&self, step: &str) -> String {
        match self.summary["steps"][step]
            .get("error")
            .and_then(Value::as_str)
        {
            Some(e) => e.to_string(),
            None => panic!(
                "step {step} did not fail: {}\nstderr:\n{}",
                self.summary, self.stderr
            ),
        }
    }
}

/// A private MCP Auth home and keyring service, and the browser that approves.
pub struct Env {
    pub home: PathBuf,
    pub service: String,
}

impl Env {
    pub fn new() -> Self {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "the CLI tests need a D-Bus session with an unlocked gnome-keyring: run scripts/test.sh"
        );
        assert!(
            repo().join("tests/browser/node_modules").is_dir(),
            "run `npm ci --prefix tests/browser` (scripts/setup.sh does it)"
        );
        let id = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let home = std::env::temp_dir().join(format!("mcpauth-cli-test-{id}"));
        std::fs::create_dir_all(&home).expect("home");
        Self {
            home,
            service: format!("mcpauth-cli-test-{id}"),
        }
    }

    /// The browser: Chromium approving on the authorization server's pages,
    /// through a wrapper that counts how often it was opened.
    pub fn browser(&self) -> String {
        let wrapper = self.home.join("browser.sh");
        if !wrapper.exists() {
            let script = format!(
                "#!/bin/sh\necho \"$1\" >> '{}'\nexec node '{}' \"$1\"\n",
                self.home.join("browser.log").display(),
                repo().join("tests/browser/approve.mjs").display()
            );
            std::fs::write(&wrapper, script).expect("browser wrapper");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        wrapper.display().to_string()
    }

    /// How many times a sign-in page was opened.
    pub fn browser_runs(&self) -> usize {
        std::fs::read_to_string(self.home.join("browser.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// Runs `tests/clients/check.mjs` (an SDK stdio client) against `mcpauth
    /// proxy <proxy_args>`: `sdk` v1 or v2, `version` an older revision for v1,
    /// `steps` a comma-separated subset.
    pub fn check(
        &self,
        sdk: &str,
        version: Option<&str>,
        steps: Option<&str>,
        proxy_args: &[&str],
    ) -> Check {
        self.check_with(sdk, version, steps, proxy_args, &[])
    }

    /// [`Env::check`] with more environment for the client.
    pub fn check_with(
        &self,
        sdk: &str,
        version: Option<&str>,
        steps: Option<&str>,
        proxy_args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> Check {
        assert!(
            repo().join("tests/clients/node_modules").is_dir(),
            "run `npm ci --prefix tests/clients` (scripts/setup.sh does it)"
        );
        let mut c = Command::new("node");
        c.arg(repo().join("tests/clients/check.mjs"))
            .args(["--sdk", sdk]);
        if let Some(v) = version {
            c.args(["--version", v]);
        }
        if let Some(s) = steps {
            c.args(["--steps", s]);
        }
        c.arg("--")
            .arg(env!("CARGO_BIN_EXE_mcpauth"))
            .arg("proxy")
            .args(proxy_args)
            .env("MCPAUTH_HOME", &self.home)
            .env("MCPAUTH_KEYRING_SERVICE", &self.service)
            .env("BROWSER", self.browser())
            .env("MCPAUTH_TEST_USER", "alice")
            .timeout(std::time::Duration::from_secs(240));
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let out = c.output().expect("node check.mjs");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "check.mjs printed no summary ({e}); stdout: {}\nstderr:\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        Check { summary, stderr }
    }

    /// `mcpauth proxy <args>` with this home, spoken to line by line.
    pub async fn raw_proxy(&self, args: &[&str]) -> RawProxy {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcpauth"))
            .arg("proxy")
            .args(args)
            .env("MCPAUTH_HOME", &self.home)
            .env("MCPAUTH_KEYRING_SERVICE", &self.service)
            .env("BROWSER", self.browser())
            .env("MCPAUTH_TEST_USER", "alice")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start mcpauth proxy");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = tokio::io::BufReader::new(child.stdout.take().expect("stdout"));
        RawProxy {
            child,
            stdin: Some(stdin),
            lines: tokio::io::AsyncBufReadExt::lines(stdout),
        }
    }

    /// Every account, as `list --json` shows them.
    pub fn accounts(&self) -> Vec<Value> {
        self.json(&["list", "--json"])["accounts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("mcpauth").expect("binary");
        c.env("MCPAUTH_HOME", &self.home)
            .env("MCPAUTH_KEYRING_SERVICE", &self.service)
            .env("BROWSER", self.browser())
            .env("MCPAUTH_TEST_USER", "alice")
            .timeout(std::time::Duration::from_secs(120));
        c
    }

    pub fn std_cmd(&self) -> StdCommand {
        let mut c = StdCommand::new(env!("CARGO_BIN_EXE_mcpauth"));
        c.env("MCPAUTH_HOME", &self.home)
            .env("MCPAUTH_KEYRING_SERVICE", &self.service)
            .env("BROWSER", self.browser());
        c
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd().args(args).output().expect("run");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    pub fn token(&self, account: &str) -> String {
        let out = self.cmd().args(["token", account]).output().expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("utf8");
        assert_eq!(text.lines().count(), 1, "the token alone on stdout");
        text.trim().to_string()
    }

    /// The refresh token, read from the keyring the way the vault does (the CLI never prints it).
    pub fn refresh_token(&self, id: &str) -> String {
        let mut options = mcpauth_vault::VaultOptions::from_env().expect("options");
        options.home = self.home.clone();
        options.keyring_service = self.service.clone();
        let vault = mcpauth_vault::Vault::open(options).expect("vault");
        let bundle = vault.token_bundle(id).expect("keyring").expect("tokens");
        bundle.refresh_token.clone().expect("refresh token")
    }

    pub fn only_account(&self) -> Value {
        let list = self.json(&["list", "--json"]);
        let accounts = list["accounts"].as_array().expect("accounts");
        assert_eq!(accounts.len(), 1, "{list}");
        accounts[0].clone()
    }
}

/// A JSON-RPC `initialize` request for `version`, as a raw test client sends it.
pub fn initialize(id: u64, version: &str) -> Value {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "raw-test-client", "version": "1"}}})
}

/// The requests one MCP server of `servers` received, as its request log
/// lists them (method, path, the MCP headers): a private instance's log holds
/// one test's requests only.
pub async fn requests_to(servers: &mcpauth_testkit::Servers, server: &str) -> Vec<Value> {
    test_log(servers, "requests")
        .await
        .into_iter()
        .filter(|r| r["server"] == server)
        .collect()
}

/// The `requests` of a log the main authorization server keeps for tests
/// (`GET {issuer}/__test/<name>`).
pub async fn test_log(servers: &mcpauth_testkit::Servers, name: &str) -> Vec<Value> {
    let log: Value = reqwest::get(format!("{}/__test/{name}", servers.issuer()))
        .await
        .unwrap_or_else(|e| panic!("the {name} log: {e}"))
        .json()
        .await
        .expect("JSON");
    log["requests"].as_array().expect("requests").clone()
}

/// One MCP header of a request in that log (names in lower case).
pub fn header<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request["headers"][name].as_str()
}

impl Drop for Env {
    fn drop(&mut self) {
        // Sign out of whatever is left, so no keyring item outlives the test.
        if let Ok(out) = self.cmd().args(["list", "--json"]).output() {
            if let Ok(list) = serde_json::from_slice::<Value>(&out.stdout) {
                for a in list["accounts"].as_array().into_iter().flatten() {
                    if let Some(id) = a["id"].as_str() {
                        let _ = self.cmd().args(["logout", id]).output();
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}
