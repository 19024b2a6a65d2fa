//! The real test servers of `tests/servers` (oidc-provider and MCP SDK
//! servers), started once per test binary, and a driver for the
//! authorization server's own login and consent pages.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// A running `tests/servers` process and the URLs it printed.
pub struct Servers {
    pub json: Value,
    child: Mutex<Child>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Servers {
    pub fn issuer(&self) -> &str {
        self.json["issuer"].as_str().expect("issuer")
    }
    pub fn tenant_issuer(&self) -> &str {
        self.json["tenantIssuer"].as_str().expect("tenantIssuer")
    }
    /// The enterprise identity provider's issuer (SEP-990, `tests/servers/idjag.mjs`).
    pub fn idp_issuer(&self) -> &str {
        self.json["idpIssuer"].as_str().expect("idpIssuer")
    }
    pub fn mcp(&self, name: &str) -> &str {
        self.json["mcp"][name].as_str().expect("mcp url")
    }
    pub fn client(&self, name: &str) -> &Value {
        &self.json["clients"][name]
    }
    pub fn client_str(&self, name: &str, field: &str) -> &str {
        self.client(name)[field].as_str().expect("client field")
    }
    pub fn cimd_client_id(&self) -> &str {
        self.json["cimd"]["clientId"]
            .as_str()
            .expect("cimd client id")
    }

    /// Starts a private instance with extra options (`--access-token-ttl 4`, …);
    /// it stops when dropped.
    pub fn start(args: &[&str]) -> Servers {
        let dir = servers_dir();
        assert!(
            dir.join("node_modules").is_dir(),
            "{} has no node_modules: run `npm ci --prefix tests/servers` (scripts/setup.sh does it)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg(dir.join("start.mjs"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node tests/servers/start.mjs (is Node.js installed?)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the servers' JSON line");
        let json: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("tests/servers printed no JSON ({e}): {line:?}"));
        Servers {
            json,
            child: Mutex::new(child),
        }
    }

    /// Kills the servers at once (SIGKILL), as a crash would.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Token requests the main authorization server granted, by grant type.
    pub async fn grants(&self, grant_type: &str) -> u64 {
        self.stats().await["success"][grant_type]
            .as_u64()
            .unwrap_or(0)
    }

    /// Token requests the main authorization server refused, by grant type.
    pub async fn refused(&self, grant_type: &str) -> u64 {
        self.stats().await["error"][grant_type]
            .as_u64()
            .unwrap_or(0)
    }

    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/__test/stats", self.issuer()))
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON")
    }
}

/// `tests/servers` of the checkout whose tests run. `cargo test` names the
/// package being tested at run time (every package sits in `crates/<name>`);
/// the path compiled into this library is only the fallback: with one target
/// directory shared by two checkouts (a CI clone beside the working copy),
/// Cargo may reuse a build of this crate made in the other one.
fn servers_dir() -> PathBuf {
    let package = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    package.join("../../tests/servers")
}

/// The shared instance, started once per test binary; it exits when this
/// process does (its stdin is a pipe that closes with us).
pub fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| Servers::start(&[]))
}

/// Plays the user in the authorization server's login and consent pages
/// (oidc-provider's dev interactions), as a browser would, and returns the
/// URL the browser is finally sent to (the redirect URI with the response).
pub async fn drive_login(authorization_url: &str, redirect_uri: &str, user: &str) -> String {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser");
    let mut next = url::Url::parse(authorization_url).expect("authorization URL");
    let mut form: Option<Vec<(String, String)>> = None;
    for _ in 0..20 {
        let response = match form.take() {
            Some(fields) => browser.post(next.clone()).form(&fields).send().await,
            None => browser.get(next.clone()).send().await,
        }
        .expect("authorization server answers");
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("Location");
            let target = next.join(location).expect("resolvable Location");
            if target.as_str().starts_with(redirect_uri) {
                return target.to_string();
            }
            next = target;
            continue;
        }
        let page = response.text().await.expect("page");
        assert!(
            status.is_success(),
            "authorization server said {status}: {page}"
        );
        let action = attr_after(&page, "<form", "action").expect("a form on the page");
        let prompt = page
            .find(r#"name="prompt""#)
            .and_then(|i| attr_after(&page[i..], "", "value"))
            .expect("prompt field");
        next = next.join(&action).expect("form action");
        form = Some(match prompt.as_str() {
            "login" => vec![
                ("prompt".into(), "login".into()),
                ("login".into(), user.into()),
                ("password".into(), "any password".into()),
            ],
            other => vec![("prompt".into(), other.into())],
        });
    }
    panic!("the authorization server never redirected back to {redirect_uri}");
}

fn attr_after(html: &str, after: &str, attr: &str) -> Option<String> {
    let start = html.find(after)?;
    let rest = &html[start..];
    let key = format!(r#"{attr}=""#);
    let i = rest.find(&key)? + key.len();
    let end = rest[i..].find('"')?;
    Some(rest[i..i + end].replace("&amp;", "&"))
}

/// The claims of a JWT, without verifying it (the MCP servers verify).
pub fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).expect("JWT payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// What an MCP tool call answered.
pub struct ToolCall {
    pub status: u16,
    pub www_authenticate: Vec<String>,
    pub result: Option<Value>,
}

/// A minimal Streamable HTTP MCP client: initialize, initialized, tools/call.
pub async fn call_tool(mcp_url: &str, token: &str, tool: &str) -> ToolCall {
    const VERSION: &str = "2025-11-25";
    let http = reqwest::Client::new();
    let post = |body: Value, session: Option<String>| {
        let mut request = http
            .post(mcp_url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", VERSION)
            .json(&body);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send()
    };
    let init = post(
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "mcpauth-tests", "version": "0"}}}),
        None,
    )
    .await
    .expect("initialize");
    let denied = |r: &reqwest::Response| ToolCall {
        status: r.status().as_u16(),
        www_authenticate: r
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect(),
        result: None,
    };
    if !init.status().is_success() {
        return denied(&init);
    }
    let session = init
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let _ = init.text().await;
    let notified = post(
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        session.clone(),
    )
    .await
    .expect("initialized");
    assert!(
        notified.status().is_success(),
        "initialized: {}",
        notified.status()
    );
    let call = post(
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": {}}}),
        session,
    )
    .await
    .expect("tools/call");
    if !call.status().is_success() {
        return denied(&call);
    }
    let status = call.status().as_u16();
    let text = call.text().await.expect("body");
    let json = text
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .unwrap_or(text.trim());
    ToolCall {
        status,
        www_authenticate: Vec::new(),
        result: serde_json::from_str(json).ok(),
    }
}
