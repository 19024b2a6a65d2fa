//! The networks people are on: an MCP server behind a private CA (trusted
//! through `SSL_CERT_FILE`, `--ca-file` or `MCPAUTH_CA_FILE`), a forward proxy
//! named by `HTTP_PROXY` / `HTTPS_PROXY` (the `proxy` package, a real one) and
//! bypassed for `NO_PROXY`, and no bearer token over cleartext.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::{Arc, Mutex};

use mcpauth_testkit::servers;
use serde_json::Value;
use support::{repo, Env};

const NETWORK_VARS: [&str; 11] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "MCPAUTH_CA_FILE",
];

/// `mcpauth` with none of the network variables of the environment it runs in.
fn mcpauth(env: &Env) -> assert_cmd::Command {
    let mut c = env.cmd();
    for name in NETWORK_VARS {
        c.env_remove(name);
    }
    c
}

fn run(mut c: assert_cmd::Command, args: &[&str]) -> (bool, String, String) {
    let out = c.args(args).output().expect("run mcpauth");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The test servers' HTTPS origin (the metadata-document host), whose
/// certificate is signed by a CA made at their start and trusted nowhere else.
fn https_mcp_url() -> String {
    format!(
        "{}/mcp",
        servers().json["cimd"]["base"].as_str().expect("cimd base")
    )
}

fn write_ca(env: &Env) -> std::path::PathBuf {
    let pem = servers().json["cimd"]["caCertPem"]
        .as_str()
        .expect("CA PEM");
    let path = env.home.join("corporate-ca.pem");
    std::fs::write(&path, pem).expect("write CA bundle");
    path
}

/// A verdict on one try: the TLS handshake failed for want of trust, or it
/// succeeded (the server then says there is no MCP server at that path).
fn trusted(stderr: &str) -> bool {
    let refused = stderr.contains("certificate");
    let reached =
        stderr.contains("HTTP 404") || stderr.contains("does not look like an MCP server");
    assert!(refused != reached, "neither or both: {stderr}");
    reached
}

#[test]
fn a_server_behind_a_private_ca_is_trusted_only_when_its_root_is_given() {
    let env = Env::new();
    let ca = write_ca(&env);
    let url = https_mcp_url();

    let (ok, _, stderr) = run(mcpauth(&env), &["discover", &url]);
    assert!(!ok);
    assert!(!trusted(&stderr), "{stderr}");
    assert!(
        stderr.contains("--ca-file") && stderr.contains("SSL_CERT_FILE"),
        "the error says what to do: {stderr}"
    );

    // The bundle the operating system's store is read from.
    let mut with_bundle = mcpauth(&env);
    with_bundle.env("SSL_CERT_FILE", &ca);
    let (_, _, stderr) = run(with_bundle, &["discover", &url]);
    assert!(trusted(&stderr), "SSL_CERT_FILE: {stderr}");

    // An extra root, by flag or by environment.
    let ca_arg = ca.display().to_string();
    let (_, _, stderr) = run(mcpauth(&env), &["--ca-file", &ca_arg, "discover", &url]);
    assert!(trusted(&stderr), "--ca-file: {stderr}");
    let mut with_env = mcpauth(&env);
    with_env.env("MCPAUTH_CA_FILE", &ca);
    let (_, _, stderr) = run(with_env, &["discover", &url]);
    assert!(trusted(&stderr), "MCPAUTH_CA_FILE: {stderr}");

    // A CA file that is not one is reported as such, before anything is sent.
    let bogus = env.home.join("not-a-ca.pem");
    std::fs::write(&bogus, "hello\n").expect("write");
    let bogus_arg = bogus.display().to_string();
    let (ok, _, stderr) = run(mcpauth(&env), &["--ca-file", &bogus_arg, "discover", &url]);
    assert!(!ok);
    assert!(
        stderr.contains("not-a-ca.pem") && stderr.contains("CA file"),
        "{stderr}"
    );
}

/// The forward proxy of tests/servers/forward-proxy.mjs and what it forwarded.
struct ForwardProxy {
    child: Child,
    url: String,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl ForwardProxy {
    fn start() -> Self {
        let mut child = StdCommand::new("node")
            .arg(repo().join("tests/servers/forward-proxy.mjs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the forward proxy");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("the proxy's ready line").expect("read");
        let ready: Value = serde_json::from_str(&first).expect("JSON");
        let url = ready["url"].as_str().expect("url").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap_or_else(|e| e.into_inner()).push(v);
                }
            }
        });
        Self { child, url, seen }
    }

    fn targets(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|v| v["target"].as_str().map(str::to_string))
            .collect()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The proxy's log is written as it forwards; the command has ended, so the
/// lines are on their way: wait for them with a bound that fits a busy machine.
fn wait_for(proxy: &ForwardProxy, wanted: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let targets = proxy.targets();
        if targets.iter().any(|t| t.contains(wanted)) || std::time::Instant::now() > deadline {
            return targets;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn every_request_goes_through_the_proxy_the_environment_names() {
    let env = Env::new();
    let s = servers();
    let current = s.mcp("current");
    let proxy = ForwardProxy::start();

    let mut through = mcpauth(&env);
    through.env("HTTP_PROXY", &proxy.url);
    let (ok, stdout, stderr) = run(through, &["discover", current, "--json"]);
    assert!(ok, "{stderr}");
    let found: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(found["issuer"].as_str(), Some(s.issuer()), "{found}");
    let targets = wait_for(&proxy, "/.well-known/oauth-authorization-server");
    assert!(
        targets.iter().any(|t| t == current),
        "the probe went through the proxy: {targets:?}"
    );
    assert!(
        targets
            .iter()
            .any(|t| t.contains("/.well-known/oauth-protected-resource")),
        "{targets:?}"
    );
    assert!(
        targets
            .iter()
            .any(|t| t.starts_with(s.issuer()) && t.contains("/.well-known/")),
        "the authorization server's metadata too: {targets:?}"
    );

    // HTTPS goes through a CONNECT tunnel of HTTPS_PROXY (and still checks
    // the server's certificate end to end).
    let ca = write_ca(&env);
    let mut tunnel = mcpauth(&env);
    tunnel
        .env("HTTPS_PROXY", &proxy.url)
        .env("SSL_CERT_FILE", &ca);
    let (_, _, stderr) = run(tunnel, &["discover", &https_mcp_url()]);
    assert!(trusted(&stderr), "{stderr}");
    let https_host = https_mcp_url()
        .trim_start_matches("https://")
        .trim_end_matches("/mcp")
        .to_string();
    let targets = wait_for(&proxy, &https_host);
    assert!(
        targets.iter().any(|t| t == &https_host),
        "a CONNECT to {https_host}: {targets:?}"
    );

    // NO_PROXY: nothing more reaches the proxy.
    let before = proxy.targets().len();
    let mut bypass = mcpauth(&env);
    bypass
        .env("HTTP_PROXY", &proxy.url)
        .env("NO_PROXY", "127.0.0.1");
    let (ok, _, stderr) = run(bypass, &["discover", current]);
    assert!(ok, "{stderr}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(proxy.targets().len(), before, "{:?}", proxy.targets());
}

#[test]
fn status_shows_the_proxy_and_the_trusted_certificates_without_a_password() {
    let env = Env::new();
    let mut c = mcpauth(&env);
    c.env(
        "HTTPS_PROXY",
        "http://alice:hunter2@proxy.corp.example:3128",
    )
    .env("NO_PROXY", "localhost,.internal")
    .env("MCPAUTH_CA_FILE", write_ca(&env));
    let (ok, stdout, stderr) = run(c, &["status"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("proxy: HTTPS_PROXY=http://alice:****@proxy.corp.example:3128"),
        "{stdout}"
    );
    assert!(stdout.contains("NO_PROXY=localhost,.internal"), "{stdout}");
    assert!(stdout.contains("corporate-ca.pem"), "{stdout}");
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));

    let (ok, stdout, _) = run(mcpauth(&env), &["status"]);
    assert!(ok);
    assert!(stdout.contains("proxy: none"), "{stdout}");
    assert!(
        stdout.contains("the operating system's certificate store"),
        "{stdout}"
    );
}

#[test]
fn an_http_url_off_loopback_is_refused_by_login_and_proxy() {
    let env = Env::new();
    for args in [
        &["login", "http://mcp.example.com/mcp"][..],
        &["proxy", "http://mcp.example.com/mcp"][..],
    ] {
        let (ok, _, stderr) = run(mcpauth(&env), args);
        assert!(!ok, "{args:?}");
        assert!(
            stderr.contains("must use https") && stderr.contains("mcp.example.com"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(env.browser_runs(), 0, "no browser was opened");
}

/// The proxy says the same as the other commands when a certificate is not
/// trusted: which root to add, and how. `--ca-file` also works for it.
#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_names_the_fix_for_an_untrusted_certificate() {
    let env = Env::new();
    let url = https_mcp_url();
    let initialize = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "network-test", "version": "0"}}});
    let mut proxy = env.raw_proxy(&[&url]).await;
    let answer = proxy.call(initialize.clone()).await;
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("certificate") && message.contains("--ca-file"),
        "{answer}"
    );
    proxy.finish().await;

    let ca = write_ca(&env).display().to_string();
    let mut proxy = env.raw_proxy(&["--ca-file", &ca, &url]).await;
    let answer = proxy.call(initialize).await;
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("certificate"),
        "trusted now; the server just has no MCP endpoint there: {answer}"
    );
    proxy.finish().await;
}
