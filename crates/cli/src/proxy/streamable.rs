//! The Streamable HTTP transport, as a client of either era: the 2025 forms
//! (`Mcp-Session-Id`, the GET stream, `Last-Event-ID` resumption with
//! `retry:`, `DELETE` at the end, a re-initialization when the server
//! forgets the session) and the 2026-07-28 ones (no session; `Mcp-Method`,
//! `Mcp-Name`, `Mcp-Param-*` on every request; closing a stream cancels).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::headers::{self, HeaderParam};
use super::jsonrpc::{self, Kind};
use super::lock;
use super::wire::{is_event_stream, Deadline, Events, StreamEnd, Wire, WireError};

/// The default wait before a reconnect when the server named none (SEP-1699).
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// Reconnects in a row that bring nothing before a stream is given up.
const RECONNECTS: u32 = 5;

/// What a POST brought back.
pub enum Posted {
    /// 202: nothing (the answer to a request then comes on another stream).
    Accepted,
    Json(Value),
    Stream(Box<Events>),
}

pub struct Streamable {
    pub wire: Wire,
    pub url: Url,
    modern: AtomicBool,
    session: RwLock<Option<String>>,
    /// The negotiated legacy revision (sent as `MCP-Protocol-Version` after `initialize`).
    version: RwLock<Option<String>>,
    /// The client's handshake, replayed when the server loses the session.
    handshake: Mutex<Option<(Value, Option<Value>)>>,
    reinit: tokio::sync::Mutex<()>,
    /// `x-mcp-header` parameters per tool, from the `tools/list` answers seen.
    tool_params: RwLock<HashMap<String, Vec<HeaderParam>>>,
    ids: AtomicU64,
}

impl Streamable {
    pub fn new(wire: Wire, url: Url) -> Self {
        Self {
            wire,
            url,
            modern: AtomicBool::new(false),
            session: RwLock::new(None),
            version: RwLock::new(None),
            handshake: Mutex::new(None),
            reinit: tokio::sync::Mutex::new(()),
            tool_params: RwLock::new(HashMap::new()),
            ids: AtomicU64::new(0),
        }
    }

    pub fn set_modern(&self, modern: bool) {
        self.modern.store(modern, Ordering::SeqCst);
    }

    pub fn is_modern(&self) -> bool {
        self.modern.load(Ordering::SeqCst)
    }

    pub fn session(&self) -> Option<String> {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_session(&self, session: Option<String>) {
        *self.session.write().unwrap_or_else(|e| e.into_inner()) = session;
    }

    pub fn set_version(&self, version: Option<String>) {
        *self.version.write().unwrap_or_else(|e| e.into_inner()) = version;
    }

    fn version(&self) -> Option<String> {
        self.version
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A fresh id for a request of the proxy's own.
    pub fn own_id(&self) -> Value {
        Value::String(format!(
            "mcpauth-{}",
            self.ids.fetch_add(1, Ordering::SeqCst)
        ))
    }

    /// Keeps the handshake to replay after a 404 (SPEC §6.1).
    pub fn remember_handshake(&self, initialize: Value) {
        *lock(&self.handshake) = Some((initialize, None));
    }

    pub fn remember_initialized(&self, notification: Value) {
        if let Some((_, initialized)) = lock(&self.handshake).as_mut() {
            *initialized = Some(notification);
        }
    }

    /// Learns the header parameters of the tools a `tools/list` answer lists,
    /// and drops the tools whose annotations are invalid (a MUST for a
    /// Streamable HTTP client of 2026-07-28).
    pub fn learn_tools(&self, result: &mut Value) {
        let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) else {
            return;
        };
        let mut learned = self.tool_params.write().unwrap_or_else(|e| e.into_inner());
        tools.retain(|tool| {
            let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
            match headers::tool_header_params(tool) {
                Ok(params) => {
                    learned.insert(name.to_string(), params);
                    true
                }
                Err(why) => {
                    let line = format!("mcpauth proxy: left out tool \"{name}\": {why}");
                    eprintln!("{}", self.wire.scrubber.printable(&line));
                    learned.remove(name);
                    false
                }
            }
        });
    }

    fn headers_for(&self, message: &Value) -> Vec<(String, String)> {
        let mut out = vec![
            (
                "accept".to_string(),
                "application/json, text/event-stream".to_string(),
            ),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        let method = jsonrpc::method(message);
        if self.is_modern() {
            if let Some(version) = jsonrpc::meta_version(message) {
                out.push(("mcp-protocol-version".into(), version.to_string()));
            }
            if let (Some(method), Kind::Request) = (method, jsonrpc::kind(message)) {
                out.push(("mcp-method".into(), method.to_string()));
                if let Some(name) = headers::mcp_name(message) {
                    out.push(("mcp-name".into(), name));
                }
                if method == "tools/call" {
                    let tool = message
                        .pointer("/params/name")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let known = self.tool_params.read().unwrap_or_else(|e| e.into_inner());
                    if let Some(params) = known.get(tool) {
                        out.extend(headers::param_headers(
                            params,
                            message.pointer("/params/arguments"),
                        ));
                    }
                }
            }
        } else {
            let version = match method {
                Some("initialize") => message
                    .pointer("/params/protocolVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                _ => self.version(),
            };
            if let Some(version) = version {
                out.push(("mcp-protocol-version".into(), version));
            }
            // An initialize begins a session; it never carries one.
            if let (Some(session), false) = (self.session(), method == Some("initialize")) {
                out.push(("mcp-session-id".into(), session));
            }
        }
        out
    }

    fn operation(message: &Value) -> String {
        let method = jsonrpc::method(message).unwrap_or("response");
        match message.pointer("/params/name").and_then(Value::as_str) {
            Some(name) => format!("{method} {name}"),
            None => method.to_string(),
        }
    }

    /// POSTs one message. A legacy session the server forgot (404) is
    /// re-initialized and the message sent again, once.
    /// (Boxed: re-initializing posts too.)
    pub fn post<'a>(
        &'a self,
        message: &'a Value,
        deadline: Deadline,
    ) -> futures::future::BoxFuture<'a, Result<Posted, WireError>> {
        Box::pin(self.post_inner(message, deadline))
    }

    async fn post_inner(&self, message: &Value, deadline: Deadline) -> Result<Posted, WireError> {
        let body = message.to_string();
        let operation = Self::operation(message);
        let mut reinitialized = false;
        loop {
            let session = self.session();
            let response = self
                .wire
                .send(&operation, deadline, || {
                    let mut request = self.wire.client().post(self.url.clone()).body(body.clone());
                    for (name, value) in self.headers_for(message) {
                        request = request.header(name, value);
                    }
                    request
                })
                .await?;
            let status = response.status().as_u16();
            let begins_session = jsonrpc::method(message) == Some("initialize");
            if status == 404
                && session.is_some()
                && !begins_session
                && !reinitialized
                && !self.is_modern()
            {
                drop(response);
                reinitialized = true;
                self.reinitialize(session.as_deref()).await?;
                continue;
            }
            if let Some(id) = response
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
            {
                if !self.is_modern() {
                    self.set_session(Some(id.to_string()));
                }
            }
            if !(200..300).contains(&status) {
                return Err(self.wire.error_of(response).await);
            }
            if status == 202 || response.content_length() == Some(0) && !is_event_stream(&response)
            {
                return Ok(Posted::Accepted);
            }
            if is_event_stream(&response) {
                return Ok(Posted::Stream(Box::new(self.wire.events(response))));
            }
            let body = self
                .wire
                .read_body(response, self.wire.limits.message, false)
                .await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Posted::Accepted);
            }
            return serde_json::from_slice(&body)
                .map(Posted::Json)
                .map_err(|e| {
                    WireError::Protocol(format!("{} sent a body that is not JSON: {e}", self.url))
                });
        }
    }

    /// Sends a request of the proxy's own and waits for its answer (skipping
    /// anything else on its stream).
    pub async fn call(&self, request: &Value) -> Result<Value, WireError> {
        let id = jsonrpc::id(request).cloned().unwrap_or(Value::Null);
        match self.post(request, Deadline::Own).await? {
            Posted::Json(v) if jsonrpc::kind(&v) == Kind::Response => Ok(v),
            Posted::Json(_) => Err(WireError::Protocol(format!(
                "{} answered with JSON that is not a JSON-RPC answer",
                self.url
            ))),
            Posted::Accepted => Err(WireError::Protocol(format!(
                "{} accepted a request without answering it",
                self.url
            ))),
            Posted::Stream(mut events) => loop {
                match events.next_message().await {
                    Ok(m) if jsonrpc::kind(&m) == Kind::Response && m.get("id") == Some(&id) => {
                        return Ok(m)
                    }
                    Ok(_) => continue,
                    Err(StreamEnd::Closed) => {
                        return Err(WireError::Protocol(format!(
                            "{} closed the stream before answering",
                            self.url
                        )))
                    }
                    Err(StreamEnd::Broken(why)) => return Err(WireError::Transport(why)),
                }
            },
        }
    }

    /// The server forgot the session: replay the client's `initialize` and
    /// `notifications/initialized` (their answers are the proxy's, not the client's).
    pub async fn reinitialize(&self, lost: Option<&str>) -> Result<(), WireError> {
        let _one = self.reinit.lock().await;
        if self.session().as_deref() != lost {
            return Ok(()); // another request already did it
        }
        let Some((initialize, initialized)) = lock(&self.handshake).clone() else {
            return Err(WireError::Transport(format!(
                "{} ended the session and there is no handshake to start a new one",
                self.url
            )));
        };
        eprintln!(
            "mcpauth proxy: {} ended the session; starting a new one",
            self.url
        );
        // The old id stays until the new one is known: a re-initialization
        // cut short (a cancelled call) leaves the next request to find the
        // session gone again, not a proxy without any.
        let mut replay = initialize;
        if let Some(object) = replay.as_object_mut() {
            object.insert("id".into(), self.own_id());
        }
        let answer = self.call(&replay).await?;
        if let Some(error) = answer.get("error") {
            return Err(WireError::Transport(format!(
                "{} refused a new session: {error}",
                self.url
            )));
        }
        if let Some(v) = answer
            .pointer("/result/protocolVersion")
            .and_then(Value::as_str)
        {
            self.set_version(Some(v.to_string()));
        }
        if let Some(initialized) = initialized {
            self.post(&initialized, Deadline::Own).await?;
        }
        Ok(())
    }

    /// Opens the GET stream (server messages outside requests, or a resumed
    /// stream with `last_event_id`); `None` when the server offers none (405).
    pub async fn get_stream(
        &self,
        last_event_id: Option<&str>,
    ) -> Result<Option<Events>, WireError> {
        let response = self
            .wire
            .send("GET", Deadline::Own, || {
                let mut request = self
                    .wire
                    .client()
                    .get(self.url.clone())
                    .header("accept", "text/event-stream");
                if let Some(session) = self.session() {
                    request = request.header("mcp-session-id", session);
                }
                if let Some(version) = self.version() {
                    request = request.header("mcp-protocol-version", version);
                }
                if let Some(id) = last_event_id {
                    request = request.header("last-event-id", id);
                }
                request
            })
            .await?;
        match response.status().as_u16() {
            405 => Ok(None),
            200..=299 if is_event_stream(&response) => Ok(Some(self.wire.events(response))),
            200..=299 => Ok(None),
            _ => Err(self.wire.error_of(response).await),
        }
    }

    /// Ends the session, as a client that goes away should (best effort).
    pub async fn delete(&self) {
        let Some(session) = self.session() else {
            return;
        };
        let sent = self
            .wire
            .send("DELETE", Deadline::Own, || {
                let mut request = self
                    .wire
                    .client()
                    .delete(self.url.clone())
                    .header("mcp-session-id", session.clone())
                    .timeout(Duration::from_secs(5));
                if let Some(version) = self.version() {
                    request = request.header("mcp-protocol-version", version);
                }
                request
            })
            .await;
        if let Err(e) = sent {
            eprintln!(
                "mcpauth proxy: could not end the session: {}",
                e.describe(self.url.as_str())
            );
        }
    }
}

/// Reads one request's answer stream to its end, resuming a legacy stream the
/// server closed early (SEP-1699) with `Last-Event-ID` after its `retry:`
/// delay, until `done` says the answer has arrived.
pub struct Resuming {
    pub transport: std::sync::Arc<Streamable>,
    pub events: Events,
    failures: u32,
}

impl Resuming {
    pub fn new(transport: std::sync::Arc<Streamable>, events: Events) -> Self {
        Self {
            transport,
            events,
            failures: 0,
        }
    }

    /// The next message; `Err` when the stream ended for good before `done()`.
    pub async fn next(&mut self, done: impl Fn() -> bool) -> Result<Value, String> {
        loop {
            match self.events.next_message().await {
                Ok(message) => {
                    self.failures = 0;
                    return Ok(message);
                }
                Err(end) => {
                    if done() {
                        return Err("the answer has arrived".into());
                    }
                    let why = match &end {
                        StreamEnd::Closed => {
                            format!("{} closed the stream before answering", self.transport.url)
                        }
                        StreamEnd::Broken(why) => why.clone(),
                    };
                    // 2026-07-28 has no resumption: a broken stream loses the request.
                    let Some(last) = self.events.last_event_id().map(str::to_string) else {
                        return Err(why);
                    };
                    if self.transport.is_modern() {
                        return Err(why);
                    }
                    self.failures += 1;
                    if self.failures > RECONNECTS {
                        return Err(format!("{why} (gave up after {RECONNECTS} reconnects)"));
                    }
                    let wait = self.events.retry().unwrap_or(DEFAULT_RETRY);
                    tokio::time::sleep(wait * self.failures.min(4)).await;
                    if done() {
                        return Err("the answer has arrived".into());
                    }
                    match self.transport.get_stream(Some(&last)).await {
                        Ok(Some(mut events)) => {
                            // The id and retry carry over when the new stream names none.
                            if events.last_event_id().is_none() {
                                events.inherit(&self.events);
                            }
                            self.events = events;
                        }
                        Ok(None) => {
                            return Err(format!("{why}, and it offers no stream to resume it"))
                        }
                        Err(e) => {
                            eprintln!(
                                "mcpauth proxy: resuming failed: {}",
                                e.describe(self.transport.url.as_str())
                            );
                        }
                    }
                }
            }
        }
    }
}
