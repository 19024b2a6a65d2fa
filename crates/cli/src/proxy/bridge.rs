//! One stdio client and one remote server. Messages of the client are read in
//! order; each request runs on its own task (so a slow call does not hold up
//! the others) under an upstream id of the proxy's, which keeps the proxy's
//! own requests, re-issued input-required calls and batch members apart.
//!
//! When the two speak the same era the bridge passes messages through
//! (adding what the transport needs); otherwise `to_modern` or `to_legacy`
//! translates.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::jsonrpc::{
    self, Kind, INVALID_REQUEST, LATEST_LEGACY, META_CAPABILITIES, META_CLIENT_INFO,
    META_SUBSCRIPTION, META_VERSION, MODERN, PROXY_ERROR,
};
use super::stdio::ClientOut;
use super::upstream::{Era, Hello, InFlight, Reply, Upstream};
use super::wire::{Wire, WireError};

/// Which side translates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Both speak the same era.
    Pass,
    /// A client of the handshake era, a 2026-07-28 server.
    ToModern,
    /// A 2026-07-28 client, a server of the handshake era.
    ToLegacy,
}

use super::jsonrpc::key;
use super::lock;

/// The open way to the server.
pub struct Connected {
    pub upstream: Upstream,
    pub era: Era,
    pub mode: Mode,
    /// The client's notifications and answers, sent in order by one task (so
    /// that reading stdin never waits on the server, or on a sign-in).
    outbox: mpsc::UnboundedSender<Outgoing>,
}

/// What the outbox task sends.
enum Outgoing {
    Message(Value),
    /// After `notifications/initialized`: open the GET stream.
    Listen,
    /// Says when everything queued before it has gone.
    Flush(oneshot::Sender<()>),
}

impl Connected {
    fn post(&self, message: Value) {
        let _ = self.outbox.send(Outgoing::Message(message));
    }
}

/// A client request in progress.
pub struct Call {
    pub cancel: CancellationToken,
    pub upstream_id: Option<Value>,
    pub method: String,
    /// Server messages attributed to this call from outside its stream
    /// (a 2026-07-28 client's call to a legacy server, see `to_legacy`).
    pub inject: Option<mpsc::UnboundedSender<Value>>,
}

/// A request the proxy sent to the client.
pub enum ToClient {
    /// The server's: the answer goes back to it under its own id.
    Server(Value),
    /// The proxy's own (an input request of a 2026-07-28 server).
    Proxy(oneshot::Sender<Value>),
}

/// What the client told about itself.
#[derive(Debug, Default, Clone)]
pub struct ClientSide {
    /// `Some(true)` for a 2026-07-28 client, `Some(false)` for the handshake era.
    pub modern: Option<bool>,
    /// The revision it speaks (negotiated, for the handshake era).
    pub version: String,
    /// Its capabilities, in its own era's form.
    pub capabilities: Value,
    pub info: Option<Value>,
}

pub struct Bridge {
    pub out: ClientOut,
    pub wire: Wire,
    pub url: Url,
    /// The way to the server once open (read without waiting).
    connection: std::sync::RwLock<Option<Arc<Connected>>>,
    /// One connect at a time.
    connecting: tokio::sync::Mutex<()>,
    pub client: Mutex<ClientSide>,
    pub calls: Mutex<HashMap<String, Call>>,
    pub to_client: Mutex<HashMap<String, ToClient>>,
    ids: AtomicU64,
    /// The connect sent the client's `initialize`; its answer went back once.
    initialize_answered: AtomicBool,
    /// Ended when the proxy shuts down (ends listens, background tasks).
    pub shutdown: CancellationToken,
    pub state: Mutex<super::to_modern::ModernState>,
    pub legacy_state: Mutex<super::to_legacy::LegacyState>,
}

impl Bridge {
    pub fn new(out: ClientOut, wire: Wire, url: Url) -> Arc<Self> {
        Arc::new(Self {
            out,
            wire,
            url,
            connection: std::sync::RwLock::new(None),
            connecting: tokio::sync::Mutex::new(()),
            client: Mutex::new(ClientSide::default()),
            calls: Mutex::new(HashMap::new()),
            to_client: Mutex::new(HashMap::new()),
            ids: AtomicU64::new(1),
            initialize_answered: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            state: Mutex::new(Default::default()),
            legacy_state: Mutex::new(Default::default()),
        })
    }

    /// A fresh upstream id for a client request.
    pub fn next_id(&self) -> Value {
        Value::from(self.ids.fetch_add(1, Ordering::SeqCst))
    }

    /// A fresh id for a request the proxy sends the client.
    pub fn next_client_id(&self) -> Value {
        Value::String(format!(
            "mcpauth-{}",
            self.ids.fetch_add(1, Ordering::SeqCst)
        ))
    }

    pub fn describe(&self, e: &WireError) -> String {
        e.describe(self.url.as_str())
    }

    pub fn log(&self, text: &str) {
        eprintln!("mcpauth proxy: {}", self.wire.scrubber.printable(text));
    }

    pub fn connected(&self) -> Option<Arc<Connected>> {
        self.connection
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Handles one line of the client's: a message or a batch.
    pub async fn handle(self: &Arc<Self>, message: Value, tasks: &mut tokio::task::JoinSet<()>) {
        if let Value::Array(batch) = message {
            if batch.is_empty() {
                self.out.send(&jsonrpc::error(
                    Value::Null,
                    INVALID_REQUEST,
                    "an empty batch is not a JSON-RPC request",
                ));
                return;
            }
            // 2025-03-26 batches: each member separately (no server of a later
            // revision takes them), the answers together.
            let mut requests = Vec::new();
            let mut refused = Vec::new();
            for member in batch {
                match jsonrpc::kind(&member) {
                    // Registered now, like a single request: a cancellation
                    // right after the batch must find it.
                    Kind::Request => match self.register(&member) {
                        Ok(()) => requests.push(member),
                        Err(answer) => refused.push(answer),
                    },
                    Kind::Invalid => refused.push(jsonrpc::error(
                        member.get("id").cloned().unwrap_or(Value::Null),
                        INVALID_REQUEST,
                        "not a JSON-RPC 2.0 request, notification or response",
                    )),
                    _ => self.handle_one(member, tasks).await,
                }
            }
            if !requests.is_empty() || !refused.is_empty() {
                let me = self.clone();
                tasks.spawn(async move {
                    let answers = futures::future::join_all(
                        requests.into_iter().map(|r| me.clone().run_request(r)),
                    )
                    .await;
                    let answers: Vec<Value> = refused
                        .into_iter()
                        .chain(answers.into_iter().flatten())
                        .collect();
                    if !answers.is_empty() {
                        me.out.send(&Value::Array(answers));
                    }
                });
            }
            return;
        }
        self.handle_one(message, tasks).await;
    }

    async fn handle_one(self: &Arc<Self>, message: Value, tasks: &mut tokio::task::JoinSet<()>) {
        match jsonrpc::kind(&message) {
            Kind::Request => {
                if let Err(answer) = self.register(&message) {
                    self.out.send(&answer);
                    return;
                }
                let me = self.clone();
                tasks.spawn(async move {
                    if let Some(answer) = me.clone().run_request(message).await {
                        me.out.send(&answer);
                    }
                });
            }
            Kind::Notification => self.client_notification(message).await,
            Kind::Response => self.client_response(message).await,
            Kind::Invalid => {
                let id = message.get("id").cloned().unwrap_or(Value::Null);
                self.log("ignored a message that is not JSON-RPC");
                if !id.is_null() {
                    self.out.send(&jsonrpc::error(
                        id,
                        INVALID_REQUEST,
                        "not a JSON-RPC 2.0 request, notification or response",
                    ));
                }
            }
        }
    }

    /// Notes a client request as in progress; an error answer when its id is taken.
    fn register(&self, message: &Value) -> Result<(), Value> {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let mut calls = lock(&self.calls);
        if calls.contains_key(&key(&id)) {
            return Err(jsonrpc::error(
                id,
                INVALID_REQUEST,
                "this id is already in use by a request in progress",
            ));
        }
        calls.insert(
            key(&id),
            Call {
                cancel: CancellationToken::new(),
                upstream_id: None,
                method: jsonrpc::method(message).unwrap_or("").to_string(),
                inject: None,
            },
        );
        Ok(())
    }

    /// Runs a registered client request to its answer (`None` when it was cancelled).
    async fn run_request(self: Arc<Self>, message: Value) -> Option<Value> {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let answer = self.request(message).await;
        lock(&self.calls).remove(&key(&id));
        answer
    }

    async fn request(self: &Arc<Self>, message: Value) -> Option<Value> {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let method = jsonrpc::method(&message).unwrap_or("").to_string();
        let modern_client = self.learn_client(&message);
        let Some(modern_client) = modern_client else {
            // A handshake-era client that has not sent `initialize` yet.
            if method == "ping" {
                return Some(jsonrpc::result(id, json!({})));
            }
            return Some(jsonrpc::error(
                id,
                INVALID_REQUEST,
                "send initialize first (or speak MCP 2026-07-28, with _meta on every request)",
            ));
        };
        let connected = match self.connect(&message, modern_client).await {
            Ok(c) => c,
            Err(why) => return Some(jsonrpc::error(id, PROXY_ERROR, why)),
        };
        match connected.mode {
            Mode::Pass => self.pass(&connected, message).await,
            Mode::ToModern => self.to_modern(&connected, message).await,
            Mode::ToLegacy => self.to_legacy(&connected, message).await,
        }
    }

    /// Notes the client's era from its first message.
    fn learn_client(&self, message: &Value) -> Option<bool> {
        let mut client = lock(&self.client);
        if let Some(modern) = client.modern {
            return Some(modern);
        }
        if let Some(version) = jsonrpc::meta_version(message) {
            client.modern = Some(true);
            client.version = version.to_string();
            let meta = message.pointer("/params/_meta");
            client.capabilities = meta
                .and_then(|m| m.get(META_CAPABILITIES))
                .cloned()
                .unwrap_or_else(|| json!({}));
            client.info = meta.and_then(|m| m.get(META_CLIENT_INFO)).cloned();
            return Some(true);
        }
        if jsonrpc::method(message) == Some("initialize") {
            let params = message.get("params");
            client.modern = Some(false);
            client.version = params
                .and_then(|p| p.get("protocolVersion"))
                .and_then(Value::as_str)
                .unwrap_or(LATEST_LEGACY)
                .to_string();
            client.capabilities = params
                .and_then(|p| p.get("capabilities"))
                .cloned()
                .unwrap_or_else(|| json!({}));
            client.info = params.and_then(|p| p.get("clientInfo")).cloned();
            return Some(false);
        }
        None
    }

    /// Opens the way to the server on the first request that needs it.
    async fn connect(
        self: &Arc<Self>,
        first: &Value,
        modern_client: bool,
    ) -> Result<Arc<Connected>, String> {
        let _one = self.connecting.lock().await;
        if let Some(c) = self.connected() {
            return Ok(c);
        }
        let client = lock(&self.client).clone();
        let mut meta = Map::new();
        let initialize = if modern_client {
            if let Some(m) = first.pointer("/params/_meta").and_then(Value::as_object) {
                for k in [META_VERSION, META_CAPABILITIES, META_CLIENT_INFO] {
                    if let Some(v) = m.get(k) {
                        meta.insert(k.into(), v.clone());
                    }
                }
            }
            json!({"jsonrpc": "2.0", "id": self.next_id(), "method": "initialize", "params": {
                "protocolVersion": LATEST_LEGACY,
                "capabilities": super::to_legacy::legacy_capabilities(&client.capabilities),
                "clientInfo": client.info.clone().unwrap_or_else(own_info),
            }})
        } else {
            meta.insert(META_VERSION.into(), Value::String(MODERN.into()));
            meta.insert(
                META_CAPABILITIES.into(),
                super::to_modern::modern_capabilities(&client.capabilities),
            );
            meta.insert(
                META_CLIENT_INFO.into(),
                client.info.clone().unwrap_or_else(own_info),
            );
            let mut initialize = first.clone();
            if let Some(o) = initialize.as_object_mut() {
                o.insert("id".into(), self.next_id());
            }
            initialize
        };
        let (upstream, era, unsolicited) = Upstream::connect(
            self.wire.clone(),
            self.url.clone(),
            Hello { meta, initialize },
        )
        .await
        .map_err(|e| self.describe(&e))?;
        if let Era::Legacy { answer } = &era {
            if let Some(error) = answer.get("error") {
                // Not a session: nothing is kept, the next request tries again.
                return Err(format!(
                    "{} refused to begin a session: {}",
                    self.url,
                    error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("an error without a message")
                ));
            }
        }
        let mode = match (&era, modern_client) {
            (Era::Modern { .. }, true) | (Era::Legacy { .. }, false) => Mode::Pass,
            (Era::Modern { .. }, false) => Mode::ToModern,
            (Era::Legacy { .. }, true) => Mode::ToLegacy,
        };
        self.log(&format!(
            "{} speaks {}{}",
            self.url,
            match &era {
                Era::Modern { version, .. } => version.clone(),
                Era::Legacy { answer } => answer
                    .pointer("/result/protocolVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("an unknown revision")
                    .to_string(),
            },
            match mode {
                Mode::Pass => String::new(),
                Mode::ToModern | Mode::ToLegacy =>
                    format!("; translating for a client on {}", client.version),
            }
        ));
        let (outbox, queue) = mpsc::unbounded_channel();
        let connected = Arc::new(Connected {
            upstream,
            era,
            mode,
            outbox,
        });
        self.spawn_outbox(&connected, queue);
        self.spawn_unsolicited(connected.clone(), unsolicited);
        // The session is ready before any request that waited for it goes out.
        if mode == Mode::ToLegacy {
            self.start_legacy_session(&connected).await;
        }
        *self.connection.write().unwrap_or_else(|e| e.into_inner()) = Some(connected.clone());
        Ok(connected)
    }

    fn spawn_outbox(
        self: &Arc<Self>,
        connected: &Arc<Connected>,
        mut queue: mpsc::UnboundedReceiver<Outgoing>,
    ) {
        let me = Arc::downgrade(self);
        let connection = Arc::downgrade(connected);
        tokio::spawn(async move {
            while let Some(item) = queue.recv().await {
                let (Some(me), Some(connected)) = (me.upgrade(), connection.upgrade()) else {
                    return;
                };
                match item {
                    Outgoing::Message(message) => {
                        if let Err(e) = connected.upstream.send(&message).await {
                            let what = jsonrpc::method(&message).unwrap_or("an answer");
                            me.log(&format!("could not pass {what} on: {}", me.describe(&e)));
                        }
                    }
                    Outgoing::Listen => connected.upstream.listen_for_server_messages(),
                    Outgoing::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
    }

    fn spawn_unsolicited(
        self: &Arc<Self>,
        connected: Arc<Connected>,
        mut queue: mpsc::UnboundedReceiver<Value>,
    ) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                let Some(me) = me.upgrade() else { return };
                me.from_server(&connected, message, None).await;
            }
        });
    }

    /// Same era on both sides: forward, adding what the transport needs.
    async fn pass(self: &Arc<Self>, connected: &Connected, message: Value) -> Option<Value> {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let method = jsonrpc::method(&message).unwrap_or("").to_string();
        if method == "initialize" {
            if let Era::Legacy { answer } = &connected.era {
                // The connect above sent this very request: its answer is the client's.
                // A second initialize goes to the server like any request.
                if !self.initialize_answered.swap(true, Ordering::SeqCst) {
                    let mut answer = answer.clone();
                    answer["id"] = id;
                    return Some(answer);
                }
            }
        }
        let mut retried_headers = false;
        loop {
            let mut upstream_message = message.clone();
            let upstream_id = self.next_id();
            upstream_message["id"] = upstream_id.clone();
            // A 2026-07-28 server answers its protocol errors (HeaderMismatch
            // among them) with HTTP 400 and a JSON-RPC error: read as an answer.
            let answer = match self.send_request(connected, &id, upstream_message).await? {
                Ok(in_flight) => self.follow(connected, &id, upstream_id, in_flight).await?,
                Err(e) => self.error_answer(id.clone(), &e),
            };
            if connected.upstream.is_modern()
                && !retried_headers
                && super::to_modern::is_header_mismatch(&answer)
                && method == "tools/call"
            {
                // Our Mcp-Param-* headers came from a stale (or no) tools/list.
                retried_headers = true;
                let mut meta = message
                    .pointer("/params/_meta")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                meta.remove("progressToken"); // the client's, for its call
                self.refresh_tools(connected, meta).await;
                continue;
            }
            return Some(self.finish_pass(connected, &method, answer, id));
        }
    }

    fn finish_pass(
        &self,
        connected: &Connected,
        method: &str,
        mut answer: Value,
        id: Value,
    ) -> Value {
        let upstream_id = answer.get("id").cloned();
        answer["id"] = id.clone();
        if !connected.upstream.is_modern() {
            return answer;
        }
        if let Some(result) = answer.get_mut("result").and_then(Value::as_object_mut) {
            // A subscription's last answer names it by its request id: the client's.
            if let Some(meta) = result.get_mut("_meta").and_then(Value::as_object_mut) {
                if meta.get(META_SUBSCRIPTION).is_some()
                    && meta.get(META_SUBSCRIPTION) == upstream_id.as_ref()
                {
                    meta.insert(META_SUBSCRIPTION.into(), id);
                }
            }
            // A client MUST read an absent resultType as "complete" (SEP-2322);
            // the proxy says so for the client behind it.
            result
                .entry("resultType")
                .or_insert_with(|| Value::String("complete".into()));
        }
        if method == "tools/list" {
            if let (Some(s), Some(result)) =
                (connected.upstream.streamable(), answer.get_mut("result"))
            {
                s.learn_tools(result);
            }
        }
        answer
    }

    /// Follows one upstream request: its messages to the client, its answer back
    /// (`None` when the client cancelled it).
    pub async fn follow(
        self: &Arc<Self>,
        connected: &Connected,
        client_id: &Value,
        upstream_id: Value,
        mut in_flight: InFlight,
    ) -> Option<Value> {
        let (cancel, listen) = match lock(&self.calls).get_mut(&key(client_id)) {
            Some(call) => {
                call.upstream_id = Some(upstream_id);
                (call.cancel.clone(), call.method == "subscriptions/listen")
            }
            None => (CancellationToken::new(), false),
        };
        loop {
            tokio::select! {
                reply = in_flight.next() => match reply {
                    Reply::Message(m) => self.from_server(connected, m, Some(client_id)).await,
                    Reply::Response(r) => return Some(r),
                    Reply::Failed(why) => return Some(jsonrpc::error(client_id.clone(), PROXY_ERROR, why)),
                },
                _ = cancel.cancelled() => return None,
                // A subscription never ends by itself: at exit it is dropped.
                _ = self.shutdown.cancelled(), if listen => return None,
            }
        }
    }

    /// The cancellation of a client request in progress.
    pub fn cancel_of(&self, client_id: &Value) -> CancellationToken {
        lock(&self.calls)
            .get(&key(client_id))
            .map(|c| c.cancel.clone())
            .unwrap_or_default()
    }

    /// Sends a client request upstream; `None` when the client cancels it
    /// before the server has even answered its headers (a server that answers
    /// in JSON does so only at the end): the request is dropped, which on
    /// 2026-07-28 is the cancellation, and which a legacy server also learns
    /// from the cancellation notice passed on.
    pub async fn send_request(
        &self,
        connected: &Connected,
        client_id: &Value,
        message: Value,
    ) -> Option<Result<InFlight, WireError>> {
        let cancel = self.cancel_of(client_id);
        // Known before the answer's headers: a cancellation passed on to a
        // legacy server names it even while the server is still working.
        if let Some(call) = lock(&self.calls).get_mut(&key(client_id)) {
            call.upstream_id = message.get("id").cloned();
        }
        tokio::select! {
            sent = connected.upstream.request(message) => Some(sent),
            _ = cancel.cancelled() => None,
        }
    }

    pub fn error_answer(&self, id: Value, e: &WireError) -> Value {
        // A JSON-RPC error the server sent in an HTTP error (2026-07-28 uses
        // 400 for its protocol errors) is the client's to read.
        if let Some(error) = e.rpc_error() {
            return json!({"jsonrpc": "2.0", "id": id, "error": error});
        }
        jsonrpc::error(id, PROXY_ERROR, self.describe(e))
    }

    /// A message from the server, on a request's stream (`related`) or outside any.
    pub async fn from_server(
        self: &Arc<Self>,
        connected: &Connected,
        message: Value,
        related: Option<&Value>,
    ) {
        match connected.mode {
            Mode::ToLegacy => return self.legacy_message(connected, message, related).await,
            Mode::ToModern => return self.modern_message(connected, message).await,
            Mode::Pass => {}
        }
        match jsonrpc::kind(&message) {
            Kind::Request => self.forward_server_request(message),
            Kind::Notification => {
                let mut message = message;
                if connected.upstream.is_modern() {
                    self.map_subscription_back(&mut message);
                } else if jsonrpc::method(&message) == Some("notifications/cancelled")
                    && !self.map_server_cancellation(&mut message)
                {
                    return; // of a request the client never saw, or has answered
                }
                self.out.send(&message);
            }
            _ => {}
        }
    }

    /// A legacy server cancels a request it sent the client: under the
    /// client's id for it, which is then forgotten (it gets no answer).
    fn map_server_cancellation(&self, message: &mut Value) -> bool {
        let Some(server_id) = message.pointer("/params/requestId").cloned() else {
            return false;
        };
        let mut to_client = lock(&self.to_client);
        let found = to_client.iter().find_map(|(k, waiting)| match waiting {
            ToClient::Server(id) if *id == server_id => Some(k.clone()),
            _ => None,
        });
        let Some(client_key) = found else {
            return false;
        };
        to_client.remove(&client_key);
        match serde_json::from_str::<Value>(&client_key) {
            Ok(client_id) => {
                message["params"]["requestId"] = client_id;
                true
            }
            Err(_) => false,
        }
    }

    /// A server request on to the client, under an id of the proxy's.
    pub fn forward_server_request(&self, mut message: Value) {
        let server_id = message.get("id").cloned().unwrap_or(Value::Null);
        let id = self.next_client_id();
        lock(&self.to_client).insert(key(&id), ToClient::Server(server_id));
        message["id"] = id;
        self.out.send(&message);
    }

    /// Upstream ids in a 2026-07-28 notification back to the client's.
    fn map_subscription_back(&self, message: &mut Value) {
        let calls = lock(&self.calls);
        let find = |upstream: &Value| {
            calls.iter().find_map(|(k, c)| {
                (c.upstream_id.as_ref() == Some(upstream))
                    .then(|| serde_json::from_str::<Value>(k).ok())
                    .flatten()
            })
        };
        if let Some(sub) = message.pointer(&format!(
            "/params/_meta/{}",
            META_SUBSCRIPTION.replace('/', "~1")
        )) {
            if let Some(client_id) = find(sub) {
                message["params"]["_meta"][META_SUBSCRIPTION] = client_id;
            }
        }
        if jsonrpc::method(message) == Some("notifications/cancelled") {
            if let Some(client_id) = message.pointer("/params/requestId").and_then(find) {
                message["params"]["requestId"] = client_id;
            }
        }
    }

    /// The client answered a request the proxy sent it.
    async fn client_response(self: &Arc<Self>, message: Value) {
        let Some(id) = message.get("id") else { return };
        let Some(waiting) = lock(&self.to_client).remove(&key(id)) else {
            self.log("ignored an answer to no request of the server's");
            return;
        };
        match waiting {
            ToClient::Proxy(tx) => {
                let _ = tx.send(message);
            }
            ToClient::Server(server_id) => {
                let Some(connected) = self.connected() else {
                    return;
                };
                let mut answer = message;
                answer["id"] = server_id;
                connected.post(answer);
            }
        }
    }

    /// A notification of the client's.
    async fn client_notification(self: &Arc<Self>, message: Value) {
        let method = jsonrpc::method(&message).unwrap_or("").to_string();
        if method == "notifications/cancelled" {
            return self.client_cancelled(message);
        }
        let Some(connected) = self.connected() else {
            if method != "notifications/initialized" {
                self.log(&format!(
                    "dropped {method}: not connected to the server yet"
                ));
            }
            return;
        };
        match connected.mode {
            Mode::ToModern => return self.modern_notification(&connected, message).await,
            Mode::ToLegacy | Mode::Pass => {}
        }
        let initialized = method == "notifications/initialized";
        if initialized {
            if let Some(s) = connected.upstream.streamable() {
                s.remember_initialized(message.clone());
            }
        }
        connected.post(message);
        if initialized {
            let _ = connected.outbox.send(Outgoing::Listen);
        }
    }

    fn client_cancelled(self: &Arc<Self>, message: Value) {
        let Some(request_id) = message.pointer("/params/requestId") else {
            return;
        };
        let call = lock(&self.calls)
            .get(&key(request_id))
            .map(|c| (c.cancel.clone(), c.upstream_id.clone(), c.method.clone()));
        let Some((cancel, upstream_id, method)) = call else {
            return; // already answered: nothing to cancel
        };
        cancel.cancel();
        let Some(connected) = self.connected() else {
            return;
        };
        if connected.upstream.is_modern() {
            return; // on 2026-07-28 the closed stream is the cancellation
        }
        if method == "subscriptions/listen" && connected.mode == Mode::ToLegacy {
            return; // an emulated listen: nothing upstream to cancel
        }
        if let Some(upstream_id) = upstream_id {
            let mut notice = message.clone();
            notice["params"]["requestId"] = upstream_id;
            if let Some(params) = notice.get_mut("params").and_then(Value::as_object_mut) {
                jsonrpc::strip_meta(params, &[META_VERSION, META_CAPABILITIES, META_CLIENT_INFO]);
            }
            connected.post(notice);
        }
    }

    /// Asks the client something on behalf of a 2026-07-28 server, and waits.
    pub async fn ask_client(
        &self,
        method: &str,
        params: Option<&Value>,
        cancel: &CancellationToken,
    ) -> Result<Value, String> {
        let id = self.next_client_id();
        let (tx, rx) = oneshot::channel();
        lock(&self.to_client).insert(key(&id), ToClient::Proxy(tx));
        let mut request = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if let Some(params) = params {
            request["params"] = params.clone();
        }
        self.out.send(&request);
        tokio::select! {
            answer = rx => answer.map_err(|_| "the client went away".to_string()),
            _ = cancel.cancelled() => {
                lock(&self.to_client).remove(&key(&id));
                Err("cancelled".into())
            }
        }
    }

    /// Stdin ended: let requests in progress finish, end listens, end the session.
    pub async fn finish(self: &Arc<Self>, mut tasks: tokio::task::JoinSet<()>) {
        self.shutdown.cancel();
        // Requests of the proxy's own to the client will get no answer now.
        lock(&self.to_client).clear();
        while tasks.join_next().await.is_some() {}
        if let Some(listen) = self.stop_listening() {
            listen.abort();
        }
        if let Some(connected) = self.connected() {
            // The client's last notifications before the session ends.
            let (done, flushed) = oneshot::channel();
            if connected.outbox.send(Outgoing::Flush(done)).is_ok() {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), flushed).await;
            }
            connected.upstream.close().await;
        }
    }

    pub async fn refresh_tools(self: &Arc<Self>, connected: &Connected, meta: Map<String, Value>) {
        let Some(streamable) = connected.upstream.streamable() else {
            return;
        };
        let mut cursor: Option<Value> = None;
        for _page in 0..100 {
            let mut params = json!({"_meta": meta});
            if let Some(c) = &cursor {
                params["cursor"] = c.clone();
            }
            let request = json!({"jsonrpc": "2.0", "id": streamable.own_id(), "method": "tools/list", "params": params});
            let Ok(mut answer) = streamable.call(&request).await else {
                return;
            };
            let Some(result) = answer.get_mut("result") else {
                return;
            };
            streamable.learn_tools(result);
            cursor = result.get("nextCursor").filter(|c| !c.is_null()).cloned();
            if cursor.is_none() {
                return;
            }
        }
    }
}

/// Who the proxy says it is when the client said nothing.
pub fn own_info() -> Value {
    json!({"name": "mcpauth-proxy", "version": env!("CARGO_PKG_VERSION")})
}
