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
    self, Kind, INVALID_REQUEST, LATEST_LEGACY, META_CAPABILITIES, META_CLIENT_INFO, META_VERSION,
    MODERN, PROXY_ERROR,
};
use super::stdio::ClientOut;
use super::upstream::{Era, Hello, Upstream};
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
    pub(super) outbox: mpsc::UnboundedSender<Outgoing>,
}

/// What the outbox task sends.
pub(super) enum Outgoing {
    Message(Value),
    /// After `notifications/initialized`: open the GET stream.
    Listen,
    /// Says when everything queued before it has gone.
    Flush(oneshot::Sender<()>),
}

impl Connected {
    pub(super) fn post(&self, message: Value) {
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
    pub(super) initialize_answered: AtomicBool,
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
                me.from_server(&connected, message).await;
            }
        });
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
}

/// Who the proxy says it is when the client said nothing.
pub fn own_info() -> Value {
    json!({"name": "mcpauth-proxy", "version": env!("CARGO_PKG_VERSION")})
}
