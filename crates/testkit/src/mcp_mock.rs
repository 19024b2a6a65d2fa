//! An MCP server (2025-11-25 form: `initialize`, sessions, JSON answers) that
//! misbehaves in one chosen way no real server can be made to: an event
//! stream cut at chosen bytes, an error page echoing the `Authorization`
//! header, a 401 for every token. When given an issuer it asks for a token
//! like a real protected server (challenge and resource metadata naming that
//! authorization server), so the token it receives is a real one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::raw_http::{listen, lock, read_request, respond, respond_in_pieces, serve_each, Seen};

/// The text the split stream carries: every kind of multi-byte character.
pub const SPLIT_TEXT: &str = "héllo wörld — 你好, мир 🌍";

/// What the server does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// `tools/call unicode` answers an event stream in pieces of this many
    /// bytes (so that characters are cut in the middle), with CRLF and CR line ends.
    SplitStream { piece: usize },
    /// `tools/call` answers 502 with a page that quotes the request's
    /// `Authorization` header; `tools/call echo_rpc` answers a JSON-RPC error
    /// whose message quotes it.
    EchoAuthorization,
    /// Every request that carries a token gets 401, whatever the token.
    AlwaysUnauthorized,
    /// `/old/mcp` answers every request with a 308 to `/mcp` (an endpoint
    /// that moved); `/elsewhere/mcp` with a 307 to another origin.
    Moved,
}

struct Shared {
    base: String,
    misbehaviour: Misbehaviour,
    issuer: Option<String>,
    seen: Mutex<Vec<Seen>>,
}

/// A running mock on 127.0.0.1; it stops with the test's runtime.
#[derive(Clone)]
pub struct McpMock {
    shared: Arc<Shared>,
}

impl McpMock {
    /// Starts the mock; with `issuer`, it asks for tokens of that authorization server.
    pub async fn start(misbehaviour: Misbehaviour, issuer: Option<&str>) -> McpMock {
        let (listener, base) = listen().await;
        let shared = Arc::new(Shared {
            base,
            misbehaviour,
            issuer: issuer.map(str::to_string),
            seen: Mutex::new(Vec::new()),
        });
        serve_each(listener, shared.clone(), serve);
        McpMock { shared }
    }

    pub fn url(&self) -> String {
        format!("{}/mcp", self.shared.base)
    }

    /// The endpoint's old URL, for [`Misbehaviour::Moved`].
    pub fn old_url(&self) -> String {
        format!("{}/old/mcp", self.shared.base)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }

    /// The split stream's whole text, as the tool result carries it.
    pub fn split_text() -> String {
        vec![SPLIT_TEXT; 100].join("\n")
    }
}

fn rpc(id: &Value, result: Value) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
        .to_string()
        .into_bytes()
}

async fn serve(shared: Arc<Shared>, socket: TcpStream) -> std::io::Result<()> {
    let (seen, mut socket) = read_request(socket).await?;
    lock(&shared.seen).push(seen.clone());
    let prm_url = format!("{}/.well-known/oauth-protected-resource/mcp", shared.base);
    match (seen.method.as_str(), seen.path()) {
        ("GET", "/.well-known/oauth-protected-resource/mcp") if shared.issuer.is_some() => {
            let document = json!({
                "resource": format!("{}/mcp", shared.base),
                "authorization_servers": [shared.issuer],
                "scopes_supported": ["mcp:read"],
            });
            return respond(&mut socket, 200, &[], document.to_string().as_bytes()).await;
        }
        (_, "/old/mcp") if shared.misbehaviour == Misbehaviour::Moved => {
            return respond(&mut socket, 308, &[("Location", "/mcp")], b"").await;
        }
        (_, "/elsewhere/mcp") if shared.misbehaviour == Misbehaviour::Moved => {
            let location = "http://localhost:9/mcp";
            return respond(&mut socket, 307, &[("Location", location)], b"").await;
        }
        ("POST", "/mcp") => {}
        ("DELETE", "/mcp") => return respond(&mut socket, 200, &[], b"").await,
        ("GET", "/mcp") => return respond(&mut socket, 405, &[], b"").await,
        _ => return respond(&mut socket, 404, &[], b"{}").await,
    }
    let authorization = seen.header("authorization").map(str::to_string);
    if shared.issuer.is_some() {
        let challenge = match &authorization {
            None => Some(format!(
                r#"Bearer resource_metadata="{prm_url}", scope="mcp:read""#
            )),
            Some(_) if shared.misbehaviour == Misbehaviour::AlwaysUnauthorized => Some(format!(
                r#"Bearer error="invalid_token", error_description="no token is good enough", resource_metadata="{prm_url}""#
            )),
            Some(_) => None,
        };
        if let Some(challenge) = challenge {
            return respond(
                &mut socket,
                401,
                &[("WWW-Authenticate", &challenge)],
                br#"{"error":"invalid_token"}"#,
            )
            .await;
        }
    }
    let message: Value = serde_json::from_str(&seen.body).unwrap_or(Value::Null);
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let method = message.get("method").and_then(Value::as_str).unwrap_or("");
    match method {
        // A server of the handshake era: it knows no server/discover.
        "server/discover" => {
            let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": "Bad Request: No valid session ID provided"}});
            respond(&mut socket, 400, &[], body.to_string().as_bytes()).await
        }
        "initialize" => {
            let version = message
                .pointer("/params/protocolVersion")
                .cloned()
                .unwrap_or(json!("2025-11-25"));
            let result = json!({"protocolVersion": version, "capabilities": {"tools": {}},
                                "serverInfo": {"name": "mcpauth-mock", "version": "1.0.0"}});
            respond(
                &mut socket,
                200,
                &[("Mcp-Session-Id", "mock-session")],
                &rpc(&id, result),
            )
            .await
        }
        "" | "notifications/initialized" | "notifications/cancelled" => {
            respond(&mut socket, 202, &[], b"").await
        }
        "tools/list" => {
            let tools = json!({"tools": [
                {"name": "unicode", "inputSchema": {"type": "object"}},
                {"name": "echo_rpc", "inputSchema": {"type": "object"}},
            ]});
            respond(&mut socket, 200, &[], &rpc(&id, tools)).await
        }
        "tools/call" => {
            tools_call(
                &shared,
                &mut socket,
                &message,
                &id,
                authorization.as_deref(),
            )
            .await
        }
        _ => {
            let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}});
            respond(&mut socket, 200, &[], body.to_string().as_bytes()).await
        }
    }
}

async fn tools_call(
    shared: &Shared,
    socket: &mut TcpStream,
    message: &Value,
    id: &Value,
    authorization: Option<&str>,
) -> std::io::Result<()> {
    let tool = message
        .pointer("/params/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    match shared.misbehaviour {
        Misbehaviour::SplitStream { piece } => {
            let result = json!({"content": [{"type": "text", "text": McpMock::split_text()}]});
            let answer = String::from_utf8_lossy(&rpc(id, result)).into_owned();
            // A comment, a CR-terminated event id, then the answer with CRLF ends.
            let stream =
                format!(": keep-alive\r\nid: 1\r\r\nevent: message\r\ndata: {answer}\r\n\r\n");
            let pieces: Vec<Vec<u8>> = stream
                .as_bytes()
                .chunks(piece.max(1))
                .map(<[u8]>::to_vec)
                .collect();
            respond_in_pieces(socket, &[], &pieces, Duration::from_millis(2)).await
        }
        Misbehaviour::EchoAuthorization if tool == "echo_rpc" => {
            let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32603,
                "message": format!("the upstream refused Authorization: {}", authorization.unwrap_or("(none)"))}});
            respond(socket, 400, &[], body.to_string().as_bytes()).await
        }
        Misbehaviour::EchoAuthorization => {
            let page = format!(
                "<html><body><h1>502 Bad Gateway</h1><pre>request headers:\nAuthorization: {}\n</pre></body></html>",
                authorization.unwrap_or("(none)")
            );
            respond(
                socket,
                502,
                &[("Content-Type", "text/html")],
                page.as_bytes(),
            )
            .await
        }
        Misbehaviour::AlwaysUnauthorized | Misbehaviour::Moved => {
            respond(socket, 200, &[], &rpc(id, json!({"content": []}))).await
        }
    }
}
