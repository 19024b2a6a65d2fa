//! `mcpauth proxy`: a stdio MCP server that forwards every message to a
//! remote Streamable HTTP MCP server with the account's token.
//!
//! It forwards JSON-RPC messages as they are, without parsing them into the
//! types of one protocol revision: a client and a server that speak a newer
//! or older revision than this program still understand each other, and
//! unknown methods and fields pass through untouched. That is why it is
//! written on reqwest rather than on the Rust SDK's typed transports. It adds
//! what the transport needs: the token, `MCP-Protocol-Version`,
//! `Mcp-Session-Id`, and the 2026-07-28 `Mcp-Method`/`Mcp-Name` headers. On
//! 401 it refreshes (or signs in); on 403 `insufficient_scope` it steps up
//! to the union of scopes and retries, at most three times (SPEC §4.5).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use mcpauth_core::challenge::bearer_challenges;
use mcpauth_core::scopes::{Scopes, StepUp};
use mcpauth_vault::{Error as VaultError, SignInRequest, Vault};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::cli::ProxyArgs;
use crate::login::{client_choice, interactive_sign_in};
use crate::output::open_vault;
use crate::{exit, Failure};

struct Proxy {
    vault: Vault,
    account: String,
    url: String,
    resource: String,
    http: reqwest::Client,
    session: Mutex<Option<String>>,
    protocol: Mutex<Option<String>>,
    initialize_id: Mutex<Option<Value>>,
    step_up: Mutex<StepUp>,
    /// One browser sign-in at a time, however many requests need one.
    sign_in: tokio::sync::Mutex<()>,
    out: mpsc::UnboundedSender<String>,
}

/// What the remote answered to one message.
enum Outcome {
    Done,
    Unauthorized,
    InsufficientScope(mcpauth_core::challenge::BearerChallenge),
    Failed(String),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub async fn run(args: ProxyArgs) -> Result<(), Failure> {
    let vault = open_vault()?;
    let account = match vault.account(&args.target) {
        Ok(a) => a,
        Err(VaultError::UnknownAccount { .. }) if args.target.contains("://") => {
            eprintln!(
                "mcpauth proxy: no account for {} yet; signing in first",
                args.target
            );
            let request = SignInRequest {
                mcp_url: args.target.clone(),
                scopes: (!args.scopes.is_empty()).then(|| Scopes::parse(&args.scopes.join(" "))),
                client: client_choice(&args.client)?,
                authorization_server: args.client.authorization_server.clone(),
                ..Default::default()
            };
            interactive_sign_in(&vault, request, false).await?
        }
        Err(e) => return Err(e.into()),
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("mcpauth-proxy/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot make an HTTP client: {e}")))?;
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let proxy = Arc::new(Proxy {
        vault,
        account: account.id.clone(),
        url: account.server_url.clone(),
        resource: account.resource.clone(),
        http,
        session: Mutex::new(None),
        protocol: Mutex::new(None),
        initialize_id: Mutex::new(None),
        step_up: Mutex::new(StepUp::new()),
        sign_in: tokio::sync::Mutex::new(()),
        out: tx,
    });
    eprintln!(
        "mcpauth proxy: forwarding to {} as account {}",
        account.server_url, account.id
    );

    // One writer, so that messages never interleave on stdout.
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = rx.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err()
                || stdout.write_all(b"\n").await.is_err()
                || stdout.flush().await.is_err()
            {
                break;
            }
        }
    });

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                eprintln!("mcpauth proxy: cannot read stdin: {e}");
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let message: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                proxy.send(json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("parse error: {e}")}}));
                continue;
            }
        };
        if message.get("method").and_then(Value::as_str) == Some("initialize") {
            *lock(&proxy.initialize_id) = message.get("id").cloned();
        }
        let proxy = proxy.clone();
        tasks.spawn(async move { proxy.forward(message).await });
    }
    while tasks.join_next().await.is_some() {}
    proxy.end_session().await;
    drop(proxy);
    let _ = writer.await;
    Ok(())
}

impl Proxy {
    fn send(&self, message: Value) {
        let _ = self.out.send(message.to_string());
    }

    fn reply_error(&self, message: &Value, text: String) {
        eprintln!("mcpauth proxy: {text}");
        if let Some(id) = message
            .get("id")
            .filter(|_| message.get("method").is_some())
        {
            self.send(
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32001, "message": text}}),
            );
        }
    }

    /// The step-up budget is per resource and operation (method and tool name).
    fn operation(message: &Value) -> String {
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("response");
        match message.pointer("/params/name").and_then(Value::as_str) {
            Some(name) => format!("{method} {name}"),
            None => method.to_string(),
        }
    }

    async fn forward(&self, message: Value) {
        let operation = Self::operation(&message);
        let mut refreshed = false;
        let mut signed_in = false;
        loop {
            let token = match self.vault.token(&self.account).await {
                Ok(t) => t,
                Err(VaultError::NeedsSignIn { reason, .. }) if !signed_in => {
                    eprintln!("mcpauth proxy: {reason}; signing in again");
                    if let Err(e) = self.sign_in_again(None).await {
                        return self.reply_error(&message, e.message);
                    }
                    signed_in = true;
                    continue;
                }
                Err(e) => return self.reply_error(&message, e.to_string()),
            };
            match self.post(&message, token.secret()).await {
                Outcome::Done => {
                    lock(&self.step_up).succeeded(&self.resource, &operation);
                    return;
                }
                Outcome::Unauthorized if !refreshed => {
                    refreshed = true;
                    if let Err(e) = self.vault.refresh_now(&self.account).await {
                        eprintln!("mcpauth proxy: refresh failed: {e}");
                    }
                }
                Outcome::Unauthorized if !signed_in => {
                    if let Err(e) = self.sign_in_again(None).await {
                        return self.reply_error(&message, e.message);
                    }
                    signed_in = true;
                }
                Outcome::Unauthorized => {
                    return self.reply_error(
                        &message,
                        format!("{} still answers 401 after a new sign-in", self.url),
                    )
                }
                Outcome::InsufficientScope(challenge) => {
                    let requested = self
                        .vault
                        .account(&self.account)
                        .map(|a| {
                            Scopes::parse(&a.requested_scopes)
                                .union(&Scopes::parse(&a.granted_scopes))
                        })
                        .unwrap_or_default();
                    let next = lock(&self.step_up).next_scopes(
                        &self.resource,
                        &operation,
                        &requested,
                        &challenge,
                    );
                    match next {
                        Ok(scopes) => {
                            eprintln!("mcpauth proxy: {operation} needs more scopes; signing in again for: {scopes}");
                            if let Err(e) = self.sign_in_again(Some(scopes)).await {
                                return self.reply_error(&message, e.message);
                            }
                        }
                        Err(e) => return self.reply_error(&message, e.to_string()),
                    }
                }
                Outcome::Failed(text) => return self.reply_error(&message, text),
            }
        }
    }

    async fn sign_in_again(&self, scopes: Option<Scopes>) -> Result<(), Failure> {
        let _one_at_a_time = self.sign_in.lock().await;
        let request = SignInRequest {
            mcp_url: self.url.clone(),
            scopes,
            account: Some(self.account.clone()),
            ..Default::default()
        };
        interactive_sign_in(&self.vault, request, false)
            .await
            .map(|_| ())
    }

    async fn post(&self, message: &Value, token: &str) -> Outcome {
        let method = message.get("method").and_then(Value::as_str);
        let version = match method {
            Some("initialize") => message
                .pointer("/params/protocolVersion")
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => lock(&self.protocol).clone(),
        };
        let mut request = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(message.to_string());
        if let Some(v) = version {
            request = request.header("mcp-protocol-version", v);
        }
        if let Some(session) = lock(&self.session).clone() {
            request = request.header("mcp-session-id", session);
        }
        if let Some(method) = method {
            request = request.header("mcp-method", method);
            let name = match method {
                "tools/call" | "prompts/get" => message.pointer("/params/name"),
                "resources/read" => message.pointer("/params/uri"),
                _ => None,
            };
            if let Some(name) = name.and_then(Value::as_str) {
                request = request.header("mcp-name", name);
            }
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(format!("cannot reach {}: {e}", self.url)),
        };
        let status = response.status().as_u16();
        let challenges = bearer_challenges(
            response
                .headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        if status == 401 {
            return Outcome::Unauthorized;
        }
        if status == 403 {
            if let Some(c) = challenges.into_iter().find(|c| c.is_insufficient_scope()) {
                return Outcome::InsufficientScope(c);
            }
        }
        if let Some(session) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            *lock(&self.session) = Some(session.to_string());
        }
        if !(200..300).contains(&status) {
            let body = response.text().await.unwrap_or_default();
            let excerpt: String = body.chars().take(300).collect();
            return Outcome::Failed(format!("{} answered HTTP {status}: {excerpt}", self.url));
        }
        let is_sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_sse {
            self.relay_sse(response).await
        } else {
            match response.bytes().await {
                Ok(body) if body.iter().all(u8::is_ascii_whitespace) => Outcome::Done,
                Ok(body) => match serde_json::from_slice::<Value>(&body) {
                    Ok(v) => {
                        self.deliver(v);
                        Outcome::Done
                    }
                    Err(e) => {
                        Outcome::Failed(format!("{} sent a body that is not JSON: {e}", self.url))
                    }
                },
                Err(e) => Outcome::Failed(format!("the answer from {} broke off: {e}", self.url)),
            }
        }
    }

    /// Sends a server message to the client, noting the negotiated protocol version.
    fn deliver(&self, message: Value) {
        let is_initialize_result = {
            let id = lock(&self.initialize_id);
            id.is_some() && message.get("id") == id.as_ref() && message.get("result").is_some()
        };
        if is_initialize_result {
            if let Some(v) = message
                .pointer("/result/protocolVersion")
                .and_then(Value::as_str)
            {
                *lock(&self.protocol) = Some(v.to_string());
            }
        }
        self.send(message);
    }

    async fn relay_sse(&self, response: reqwest::Response) -> Outcome {
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        let mut data: Vec<String> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    return Outcome::Failed(format!(
                        "the event stream from {} broke off: {e}",
                        self.url
                    ))
                }
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find('\n') {
                let line: String = buffer.drain(..=end).collect();
                let line = line.trim_end_matches(['\r', '\n']);
                if line.is_empty() {
                    self.dispatch_event(&mut data);
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
                }
            }
        }
        self.dispatch_event(&mut data);
        Outcome::Done
    }

    fn dispatch_event(&self, data: &mut Vec<String>) {
        if data.is_empty() {
            return;
        }
        let joined = data.join("\n");
        data.clear();
        match serde_json::from_str::<Value>(&joined) {
            Ok(v) => self.deliver(v),
            Err(e) => eprintln!("mcpauth proxy: ignored an event that is not JSON: {e}"),
        }
    }

    /// Ends the server's session, as a client that goes away should (best effort).
    async fn end_session(&self) {
        let Some(session) = lock(&self.session).clone() else {
            return;
        };
        if let Ok(token) = self.vault.token(&self.account).await {
            let _ = self
                .http
                .delete(&self.url)
                .bearer_auth(token.secret())
                .header("mcp-session-id", session)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
        }
    }
}
