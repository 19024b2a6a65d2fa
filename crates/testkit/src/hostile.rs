//! A hostile MCP server and authorization server in one, for answers no real
//! server gives (DESIGN.md: mock servers only for hostile, malformed, slow or
//! oversized answers). It behaves like a small, correct OAuth server until a
//! test tells it to misbehave, and records every request it receives so a test
//! can show what was — and was not — sent.
//!
//! It speaks HTTP/1.1 by hand over a TCP socket, because the point is to send
//! what a well-behaved HTTP library would refuse to: endless chunked bodies,
//! silence, 10 MB answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// How the token endpoint misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenMode {
    /// Issues tokens like a correct server (rotating refresh tokens).
    Normal,
    /// Answers `307 Temporary Redirect` to this URL (which should never be followed).
    RedirectTo(String),
    /// A `200` whose body is this many bytes of JSON-looking text.
    HugeBody(usize),
    /// A `200` with a chunked body that never ends.
    EndlessChunked,
    /// Reads the request and never answers.
    NeverAnswer,
    /// Correct tokens with this value as `expires_in` (`null`: no `expires_in`).
    Expiry(Value),
    /// Rotates the refresh token once, then rejects the new one with `invalid_grant`.
    RotateThenReject,
}

/// What the server does; change it at any time with [`Hostile::set`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Replaces the MCP endpoint's `WWW-Authenticate` value.
    pub challenge: Option<String>,
    /// Replaces the protected resource metadata's `resource`.
    pub prm_resource: Option<String>,
    /// Replaces the authorization server metadata's `issuer`.
    pub metadata_issuer: Option<String>,
    /// Advertises the authorization and token endpoints on plain http at a
    /// host that is not loopback.
    pub plain_http_endpoints: bool,
    /// Replaces `iss` in the authorization response.
    pub authorize_iss: Option<String>,
    /// Metadata documents answer with this many bytes instead.
    pub huge_metadata: Option<usize>,
    pub token: TokenMode,
    /// Token responses carry no refresh token.
    pub no_refresh_token: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            challenge: None,
            prm_resource: None,
            metadata_issuer: None,
            plain_http_endpoints: false,
            authorize_iss: None,
            huge_metadata: None,
            token: TokenMode::Normal,
            no_refresh_token: false,
        }
    }
}

pub use crate::raw_http::Seen;
use crate::raw_http::{listen, lock, respond, serve_each};

#[derive(Default)]
struct Grants {
    /// Refresh tokens the server still accepts.
    live_refresh: Vec<String>,
    /// Under `RotateThenReject`: refresh tokens issued by a rotation, refused next time.
    doomed: Vec<String>,
}

struct Shared {
    base: String,
    behaviour: Mutex<Behaviour>,
    seen: Mutex<Vec<Seen>>,
    grants: Mutex<Grants>,
    counter: AtomicU64,
}

/// A running hostile server on 127.0.0.1; it stops with the test's runtime.
#[derive(Clone)]
pub struct Hostile {
    shared: Arc<Shared>,
}

impl Hostile {
    /// Starts a server that behaves until told otherwise.
    pub async fn start() -> Hostile {
        let (listener, base) = listen().await;
        let shared = Arc::new(Shared {
            base,
            behaviour: Mutex::new(Behaviour::default()),
            seen: Mutex::new(Vec::new()),
            grants: Mutex::new(Grants::default()),
            counter: AtomicU64::new(0),
        });
        serve_each(listener, shared.clone(), serve);
        Hostile { shared }
    }

    /// `http://127.0.0.1:<port>`, also the issuer.
    pub fn base(&self) -> &str {
        &self.shared.base
    }

    /// The MCP endpoint.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.shared.base)
    }

    /// Changes what the server does from now on.
    pub fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut lock(&self.shared.behaviour));
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }

    /// Requests whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.target.starts_with(prefix))
            .count()
    }

    /// True when any request carried `needle` anywhere (line, headers or body).
    pub fn received(&self, needle: &str) -> bool {
        self.seen().iter().any(|s| s.text().contains(needle))
    }

    /// Forgets the requests recorded so far.
    pub fn clear_seen(&self) {
        lock(&self.shared.seen).clear();
    }
}

async fn serve(shared: Arc<Shared>, socket: TcpStream) -> std::io::Result<()> {
    let (seen, mut socket) = crate::raw_http::read_request(socket).await?;
    lock(&shared.seen).push(seen.clone());
    let behaviour = lock(&shared.behaviour).clone();
    let path = seen
        .target
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    match path.as_str() {
        "/mcp" => mcp(&shared, &behaviour, &seen, &mut socket).await,
        "/.well-known/oauth-protected-resource/mcp" | "/.well-known/oauth-protected-resource" => {
            let document = json!({
                "resource": behaviour.prm_resource.clone().unwrap_or_else(|| format!("{}/mcp", shared.base)),
                "authorization_servers": [shared.base],
                "scopes_supported": ["read", "write"],
            });
            metadata_answer(&behaviour, &document, &mut socket).await
        }
        "/.well-known/oauth-authorization-server" => {
            let endpoints = if behaviour.plain_http_endpoints {
                let port = shared.base.rsplit(':').next().unwrap_or_default();
                format!("http://hostile.invalid:{port}")
            } else {
                shared.base.clone()
            };
            let document = json!({
                "issuer": behaviour.metadata_issuer.clone().unwrap_or_else(|| shared.base.clone()),
                "authorization_endpoint": format!("{endpoints}/authorize"),
                "token_endpoint": format!("{endpoints}/token"),
                "registration_endpoint": format!("{}/register", shared.base),
                "revocation_endpoint": format!("{}/revoke", shared.base),
                "code_challenge_methods_supported": ["S256"],
                "authorization_response_iss_parameter_supported": true,
                "scopes_supported": ["read", "write", "offline_access"],
                "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
            });
            metadata_answer(&behaviour, &document, &mut socket).await
        }
        "/authorize" => authorize(&shared, &behaviour, &seen, &mut socket).await,
        "/register" => {
            let body = json!({
                "client_id": "hostile-client",
                "token_endpoint_auth_method": "none",
                "redirect_uris": serde_json::from_str::<Value>(&seen.body)
                    .ok()
                    .and_then(|v| v.get("redirect_uris").cloned())
                    .unwrap_or(json!([])),
                "grant_types": ["authorization_code", "refresh_token"],
            });
            respond(&mut socket, 201, &[], body.to_string().as_bytes()).await
        }
        "/token" => token(&shared, &behaviour, &seen, &mut socket).await,
        "/revoke" => respond(&mut socket, 200, &[], b"").await,
        _ => respond(&mut socket, 404, &[], b"{\"error\":\"not_found\"}").await,
    }
}

async fn metadata_answer(
    behaviour: &Behaviour,
    document: &Value,
    socket: &mut TcpStream,
) -> std::io::Result<()> {
    match behaviour.huge_metadata {
        Some(size) => huge(socket, size).await,
        None => respond(socket, 200, &[], document.to_string().as_bytes()).await,
    }
}

async fn mcp(
    shared: &Shared,
    behaviour: &Behaviour,
    seen: &Seen,
    socket: &mut TcpStream,
) -> std::io::Result<()> {
    let authorized = seen
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v.starts_with("Bearer hat-"));
    if authorized {
        let body = json!({"jsonrpc": "2.0", "id": 1, "result": {"ok": true}});
        return respond(socket, 200, &[], body.to_string().as_bytes()).await;
    }
    let challenge = behaviour.challenge.clone().unwrap_or_else(|| {
        format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"read\"",
            shared.base
        )
    });
    respond(socket, 401, &[("WWW-Authenticate", &challenge)], b"").await
}

fn query_param(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn form_param(body: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn authorize(
    shared: &Shared,
    behaviour: &Behaviour,
    seen: &Seen,
    socket: &mut TcpStream,
) -> std::io::Result<()> {
    let redirect = query_param(&seen.target, "redirect_uri").unwrap_or_default();
    let state = query_param(&seen.target, "state").unwrap_or_default();
    let iss = behaviour
        .authorize_iss
        .clone()
        .unwrap_or_else(|| shared.base.clone());
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let mut location = url::Url::parse(&redirect).map_err(std::io::Error::other)?;
    location
        .query_pairs_mut()
        .append_pair("code", &format!("hcode-{n}-{}", rand_suffix()))
        .append_pair("state", &state)
        .append_pair("iss", &iss);
    respond(socket, 302, &[("Location", location.as_str())], b"").await
}

/// 64 unpredictable bits, from the standard library's randomly keyed hasher.
fn rand_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    format!("{:016x}", hasher.finish())
}

fn tokens(shared: &Shared, expires_in: Value) -> (Value, String) {
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let refresh = format!("hrt-{n}-{}", rand_suffix());
    let mut body = json!({
        "access_token": format!("hat-{n}-{}", rand_suffix()),
        "token_type": "Bearer",
        "expires_in": expires_in,
        "refresh_token": refresh,
        "scope": "read offline_access",
    });
    // `Expiry(Value::Null)` leaves `expires_in` out, as RFC 6749 §5.1 allows.
    if body["expires_in"].is_null() {
        body.as_object_mut().map(|o| o.remove("expires_in"));
    }
    (body, refresh)
}

async fn token(
    shared: &Shared,
    behaviour: &Behaviour,
    seen: &Seen,
    socket: &mut TcpStream,
) -> std::io::Result<()> {
    match &behaviour.token {
        TokenMode::RedirectTo(to) => {
            return respond(socket, 307, &[("Location", to)], b"").await;
        }
        TokenMode::HugeBody(size) => return huge(socket, *size).await,
        TokenMode::EndlessChunked => return endless(socket).await,
        TokenMode::NeverAnswer => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        }
        TokenMode::Normal | TokenMode::Expiry(_) | TokenMode::RotateThenReject => {}
    }
    let expires_in = match &behaviour.token {
        TokenMode::Expiry(v) => v.clone(),
        _ => json!(3600),
    };
    let grant = form_param(&seen.body, "grant_type").unwrap_or_default();
    if grant == "refresh_token" {
        let presented = form_param(&seen.body, "refresh_token").unwrap_or_default();
        let answer = {
            let mut grants = lock(&shared.grants);
            let live = grants.live_refresh.contains(&presented);
            let doomed = grants.doomed.contains(&presented);
            if !live || (doomed && behaviour.token == TokenMode::RotateThenReject) {
                None
            } else {
                grants.live_refresh.retain(|t| t != &presented);
                let (body, refresh) = tokens(shared, expires_in);
                grants.live_refresh.push(refresh.clone());
                if behaviour.token == TokenMode::RotateThenReject {
                    grants.doomed.push(refresh);
                }
                Some(body)
            }
        };
        return match answer {
            Some(body) => respond(socket, 200, &[], body.to_string().as_bytes()).await,
            None => {
                let body = json!({"error": "invalid_grant", "error_description": "the refresh token is not valid"});
                respond(socket, 400, &[], body.to_string().as_bytes()).await
            }
        };
    }
    let (mut body, refresh) = tokens(shared, expires_in);
    if behaviour.no_refresh_token {
        body.as_object_mut().map(|o| o.remove("refresh_token"));
    } else {
        lock(&shared.grants).live_refresh.push(refresh);
    }
    respond(socket, 200, &[], body.to_string().as_bytes()).await
}

/// `size` bytes of a JSON string that never closes, in 64 KiB writes.
async fn huge(socket: &mut TcpStream, size: usize) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await?;
    let chunk = vec![b'a'; 64 * 1024];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len());
        socket.write_all(&chunk[..n]).await?;
        left -= n;
    }
    socket.shutdown().await
}

/// A chunked body that goes on until the client hangs up.
async fn endless(socket: &mut TcpStream) -> std::io::Result<()> {
    socket
        .write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .await?;
    socket.write_all(b"1\r\n{\r\n").await?;
    let chunk = format!("1000\r\n{}\r\n", "a".repeat(0x1000));
    loop {
        socket.write_all(chunk.as_bytes()).await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
