//! HTTP for the proxy: every request through the auth layer (401 and 403
//! handled before anyone else sees them), bounded bodies and event streams,
//! timeouts, and errors with the token scrubbed out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use mcpauth_core::challenge::bearer_challenges;
use mcpauth_core::discovery::Probe;
use serde_json::Value;

use super::auth::{Attempts, Auth};
use super::scrub::Scrubber;
use super::sse::{Decoder, Event};

/// The bounds every exchange with the server keeps.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest single message (a JSON body or one event).
    pub message: usize,
    /// How much of an error answer is read.
    pub error_body: usize,
    /// How long the server may stay silent: no answer headers, or no byte on a
    /// stream (keep-alive comments count).
    pub idle: Duration,
    /// How long a request the proxy makes on its own behalf waits for the
    /// answer's headers (its body, like any, is bounded by `idle` per chunk).
    pub own: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            message: 16 * 1024 * 1024,
            error_body: 64 * 1024,
            idle: Duration::from_secs(300),
            own: Duration::from_secs(30),
        }
    }
}

/// Why an exchange failed; every text is scrubbed.
#[derive(Debug)]
pub enum WireError {
    /// The server could not be reached, or the answer broke off.
    Transport(String),
    /// The auth layer gave up (the message says why and what to do).
    Auth(String),
    /// The server answered, but not in a form MCP allows.
    Protocol(String),
    /// The server answered an HTTP error.
    Status {
        status: u16,
        /// The start of the body, as text.
        excerpt: String,
        /// The body as JSON, when it is.
        json: Option<Value>,
    },
}

impl WireError {
    /// One line for the client and the log.
    pub fn describe(&self, url: &str) -> String {
        match self {
            WireError::Transport(m) | WireError::Auth(m) | WireError::Protocol(m) => m.clone(),
            WireError::Status {
                status, excerpt, ..
            } if excerpt.is_empty() => format!("{url} answered HTTP {status}"),
            WireError::Status {
                status, excerpt, ..
            } => format!("{url} answered HTTP {status}: {excerpt}"),
        }
    }

    /// The JSON-RPC error object of an error answer, when it carries one.
    pub fn rpc_error(&self) -> Option<&Value> {
        match self {
            WireError::Status { json: Some(v), .. } => v.get("error").filter(|e| e.is_object()),
            _ => None,
        }
    }
}

/// How long to wait for the answer's headers.
#[derive(Debug, Clone, Copy)]
pub enum Deadline {
    /// A request of the client's: as long as the server may be silent.
    Relayed,
    /// A request of the proxy's own.
    Own,
}

/// The HTTP client with the account's token.
#[derive(Clone)]
pub struct Wire {
    http: reqwest::Client,
    pub auth: Arc<Auth>,
    pub scrubber: Scrubber,
    pub limits: Limits,
    /// Endpoints the server moved with a same-origin 307/308: later requests
    /// go to the final URL at once.
    moved: Arc<std::sync::Mutex<HashMap<String, url::Url>>>,
    /// The latest DPoP nonce each origin gave (RFC 9449 §9), sent in every
    /// proof to it until it gives another.
    dpop_nonces: Arc<std::sync::Mutex<HashMap<String, String>>>,
}

/// How many same-origin 307/308 redirects one request follows.
const REDIRECT_LIMIT: usize = 3;

/// Where a 307/308 answer sends the request, when that stays on its origin.
fn same_origin_move(response: &reqwest::Response, from: &url::Url) -> Option<url::Url> {
    if !matches!(response.status().as_u16(), 307 | 308) {
        return None;
    }
    let location = response.headers().get("location")?.to_str().ok()?;
    let next = from.join(location).ok()?;
    (next.origin() == from.origin()).then_some(next)
}

impl Wire {
    pub fn new(auth: Arc<Auth>, scrubber: Scrubber, limits: Limits) -> Result<Self, String> {
        let http = mcpauth_core::network::client_builder()
            .map_err(|e| e.to_string())?
            // Same-origin redirects are the server's business, not a way to send the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("mcpauth-proxy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Self {
            http,
            auth,
            scrubber,
            limits,
            moved: Arc::default(),
            dpop_nonces: Arc::default(),
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.http
    }

    fn transport_error(&self, url: &str, e: &reqwest::Error) -> WireError {
        let mut text = format!("cannot reach {url}: {e}");
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        if let Some(hint) = mcpauth_core::network::certificate_hint(&text) {
            text.push_str(" — ");
            text.push_str(&hint);
        }
        WireError::Transport(self.scrubber.scrub(&text).into_owned())
    }

    /// Sends a request built by `build` with the current token. A 401 refreshes
    /// or signs in and sends again; a 403 `insufficient_scope` steps up for
    /// `operation` and sends again; the first other answer is returned (2xx
    /// or not: the caller reads non-2xx with [`Wire::error_of`]).
    pub async fn send(
        &self,
        operation: &str,
        deadline: Deadline,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, WireError> {
        let mut attempts = Attempts::default();
        let mut redirects = 0;
        let mut nonce_retried = false;
        loop {
            let credential = self
                .auth
                .credential()
                .await
                .map_err(|f| WireError::Auth(f.0))?;
            let mut request = build()
                .build()
                .map_err(|e| WireError::Transport(format!("cannot make the request: {e}")))?;
            let asked = request.url().clone();
            if let Some(moved) = super::lock(&self.moved).get(asked.as_str()) {
                *request.url_mut() = moved.clone();
            }
            let sent_to = request.url().clone();
            if let Some(token) = &credential.token {
                self.authorize(&mut request, token, credential.dpop.as_deref())?;
            }
            let url = sent_to.to_string();
            let wait = match deadline {
                Deadline::Relayed => self.limits.idle,
                Deadline::Own => self.limits.own,
            };
            let response = match tokio::time::timeout(wait, self.http.execute(request)).await {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => return Err(self.transport_error(&url, &e)),
                Err(_) => {
                    return Err(WireError::Transport(format!(
                        "{url} did not answer within {} s",
                        wait.as_secs()
                    )))
                }
            };
            // A same-origin 307/308 keeps the method and body: the request is
            // sent again there, and so is every later one for that URL. One
            // that leaves the origin is answered as is (the token stays home).
            if let Some(next) = same_origin_move(&response, &sent_to) {
                if redirects < REDIRECT_LIMIT {
                    redirects += 1;
                    tracing::info!(from = %sent_to, to = %next, "the MCP server moved this endpoint");
                    super::lock(&self.moved).insert(asked.to_string(), next);
                    continue;
                }
            }
            let origin = sent_to.origin().ascii_serialization();
            if let Some(nonce) = response
                .headers()
                .get(mcpauth_core::dpop::NONCE_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|n| mcpauth_core::dpop::valid_nonce(n))
            {
                super::lock(&self.dpop_nonces).insert(origin, nonce.to_string());
            }
            let status = response.status().as_u16();
            if status != 401 && status != 403 {
                if (200..300).contains(&status) {
                    self.auth.succeeded(operation);
                }
                return Ok(response);
            }
            let challenges = bearer_challenges(
                response
                    .headers()
                    .get_all("www-authenticate")
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            );
            // RFC 9449 §9: the server wants its nonce in the proof. Sent again
            // once with it (stored above); a second such answer is a refusal.
            let nonce_asked = credential.dpop.is_some()
                && status == 401
                && challenges
                    .iter()
                    .any(|c| c.dpop && c.error.as_deref() == Some(mcpauth_core::dpop::USE_NONCE));
            if nonce_asked && !nonce_retried && self.dpop_nonce(&sent_to).is_some() {
                nonce_retried = true;
                tracing::info!(url = %sent_to, "the MCP server asked for a DPoP nonce; sending again with it");
                continue;
            }
            let insufficient = challenges
                .iter()
                .find(|c| c.is_insufficient_scope())
                .cloned();
            match (status, insufficient) {
                (403, Some(challenge)) => {
                    let probe = Probe::from_challenge(403, challenge.clone());
                    drop(response);
                    self.auth
                        .insufficient_scope(&credential, operation, &challenge, probe)
                        .await
                        .map_err(|f| WireError::Auth(self.scrubber.scrub(&f.0).into_owned()))?;
                }
                (401, _) => {
                    let probe = Probe {
                        status,
                        challenges,
                        form: mcpauth_core::discovery::ProbeForm::Initialize,
                        session_id: None,
                        moved_to: None,
                    };
                    drop(response);
                    self.auth
                        .unauthorized(&credential, &mut attempts, operation, probe)
                        .await
                        .map_err(|f| WireError::Auth(self.scrubber.scrub(&f.0).into_owned()))?;
                }
                _ => return Ok(response), // a 403 that is not about scopes
            }
        }
    }

    /// The latest DPoP nonce of the URL's origin.
    fn dpop_nonce(&self, url: &url::Url) -> Option<String> {
        super::lock(&self.dpop_nonces)
            .get(&url.origin().ascii_serialization())
            .cloned()
    }

    /// Puts the token on the request: `Bearer`, or for a DPoP-bound token the
    /// `DPoP` scheme and a fresh proof for this method and URL (RFC 9449 §7.1).
    fn authorize(
        &self,
        request: &mut reqwest::Request,
        token: &mcpauth_core::secret::AccessToken,
        dpop: Option<&mcpauth_core::dpop::DpopKey>,
    ) -> Result<(), WireError> {
        use reqwest::header::{HeaderValue, AUTHORIZATION};
        let unusable = || {
            WireError::Auth(
                "the access token cannot be put in an HTTP header; sign in again".into(),
            )
        };
        let scheme = if dpop.is_some() {
            mcpauth_core::dpop::SCHEME
        } else {
            "Bearer"
        };
        let mut value = HeaderValue::from_str(&format!("{scheme} {}", token.secret()))
            .map_err(|_| unusable())?;
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
        if let Some(key) = dpop {
            let url = request.url().clone();
            let nonce = self.dpop_nonce(&url);
            let proof = key
                .proof(
                    request.method().as_str(),
                    &url,
                    Some(token.secret()),
                    nonce.as_deref(),
                )
                .map_err(|e| WireError::Auth(format!("cannot make a DPoP proof: {e}")))?;
            let mut value = HeaderValue::from_str(&proof).map_err(|_| unusable())?;
            value.set_sensitive(true);
            request.headers_mut().insert("dpop", value);
        }
        Ok(())
    }

    /// Reads a non-2xx answer into an error (a bounded, scrubbed excerpt).
    pub async fn error_of(&self, response: reqwest::Response) -> WireError {
        let status = response.status().as_u16();
        let body = self
            .read_body(response, self.limits.error_body, true)
            .await
            .unwrap_or_default();
        let json = serde_json::from_slice::<Value>(&body).ok();
        let text = String::from_utf8_lossy(&body);
        let text = self.scrubber.scrub(text.trim());
        let excerpt: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
        WireError::Status {
            status,
            excerpt,
            json,
        }
    }

    /// The whole body, within `limit` (or cut at it when `truncate`), each
    /// chunk within the idle time.
    pub async fn read_body(
        &self,
        response: reqwest::Response,
        limit: usize,
        truncate: bool,
    ) -> Result<Vec<u8>, WireError> {
        let url = response.url().to_string();
        if !truncate && response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large(&url, limit));
        }
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        loop {
            match tokio::time::timeout(self.limits.idle, stream.next()).await {
                Ok(Some(Ok(chunk))) => {
                    if body.len() + chunk.len() > limit {
                        if truncate {
                            body.extend_from_slice(&chunk[..limit - body.len()]);
                            return Ok(body);
                        }
                        return Err(too_large(&url, limit));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(Some(Err(e))) => {
                    return Err(WireError::Transport(
                        self.scrubber
                            .scrub(&format!("the answer from {url} broke off: {e}"))
                            .into_owned(),
                    ))
                }
                Ok(None) => return Ok(body),
                Err(_) => {
                    return Err(WireError::Transport(format!(
                        "{url} stopped sending for {} s in the middle of an answer",
                        self.limits.idle.as_secs()
                    )))
                }
            }
        }
    }

    /// An event stream over the answer.
    pub fn events(&self, response: reqwest::Response) -> Events {
        Events {
            url: response.url().to_string(),
            // Fused: a stream that ended may be asked again (after a reconnect failed).
            stream: response.bytes_stream().fuse().boxed(),
            decoder: Decoder::new(self.limits.message),
            queued: std::collections::VecDeque::new(),
            idle: self.limits.idle,
            scrubber: self.scrubber.clone(),
        }
    }
}

fn too_large(url: &str, limit: usize) -> WireError {
    WireError::Transport(format!(
        "{url} sent a message larger than {} MiB; refused",
        limit / (1024 * 1024)
    ))
}

/// True when the answer is an event stream.
pub fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"))
}

/// How an event stream ended.
#[derive(Debug)]
pub enum StreamEnd {
    /// The server closed it (it may expect a reconnect: SEP-1699).
    Closed,
    /// It broke, stalled or sent something too large.
    Broken(String),
}

/// The events of one answer, decoded as bytes then lines.
pub struct Events {
    url: String,
    stream: BoxStream<'static, reqwest::Result<Bytes>>,
    decoder: Decoder,
    queued: std::collections::VecDeque<Event>,
    idle: Duration,
    scrubber: Scrubber,
}

impl Events {
    pub fn last_event_id(&self) -> Option<&str> {
        self.decoder.last_event_id()
    }

    pub fn retry(&self) -> Option<Duration> {
        self.decoder.retry()
    }

    /// Carries over the id and retry of the stream this one resumes.
    pub fn inherit(&mut self, earlier: &Events) {
        self.decoder.inherit(&earlier.decoder);
    }

    /// The next event, or how the stream ended.
    pub async fn next_event(&mut self) -> Result<Event, StreamEnd> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Ok(event);
            }
            match tokio::time::timeout(self.idle, self.stream.next()).await {
                Ok(Some(Ok(chunk))) => match self.decoder.feed(&chunk) {
                    Ok(events) => self.queued.extend(events),
                    Err(e) => {
                        return Err(StreamEnd::Broken(format!(
                            "{} sent an event larger than {} MiB",
                            self.url,
                            e.limit / (1024 * 1024)
                        )))
                    }
                },
                Ok(Some(Err(e))) => {
                    return Err(StreamEnd::Broken(
                        self.scrubber
                            .scrub(&format!(
                                "the event stream from {} broke off: {e}",
                                self.url
                            ))
                            .into_owned(),
                    ))
                }
                Ok(None) => return Err(StreamEnd::Closed),
                Err(_) => {
                    return Err(StreamEnd::Broken(format!(
                        "{} sent nothing for {} s",
                        self.url,
                        self.idle.as_secs()
                    )))
                }
            }
        }
    }

    /// The next JSON-RPC message (`message` events with data); other events
    /// and data that is not JSON are skipped, with a note on stderr.
    pub async fn next_message(&mut self) -> Result<Value, StreamEnd> {
        loop {
            let event = self.next_event().await?;
            if event.event != "message" || event.data.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(&event.data) {
                Ok(v) => return Ok(v),
                Err(e) => eprintln!(
                    "mcpauth proxy: skipped an event from {} that is not JSON: {e}",
                    self.url
                ),
            }
        }
    }
}
