//! The remote server, whatever it speaks: finding out its era and transport
//! (the dual-era order of transports/streamable-http "Backwards
//! compatibility": a 2026-07-28 request first, then `initialize`, then
//! HTTP+SSE), and routing everything it sends to the request it belongs to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use url::Url;

use super::jsonrpc::{self, key, Kind, META_VERSION, MODERN, UNSUPPORTED_VERSION};
use super::legacy_sse::{Delivery, LegacySse};
use super::streamable::{Posted, Resuming, Streamable};
use super::wire::{Deadline, Wire, WireError};

/// What a request's stream brings.
#[derive(Debug)]
pub enum Reply {
    /// A notification or a server request that belongs to the request.
    Message(Value),
    /// The answer: the last item.
    Response(Value),
    /// The way to the server broke before the answer.
    Failed(String),
}

/// In-flight upstream requests by id, so that an answer finds its request
/// whichever stream it arrives on (its own, the GET stream, the one HTTP+SSE stream).
#[derive(Default)]
struct Pending {
    requests: Mutex<HashMap<String, mpsc::UnboundedSender<Reply>>>,
}

impl Pending {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Reply>>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn contains(&self, key: &str) -> bool {
        self.map().contains_key(key)
    }

    /// Sends a message where it belongs: an answer to its request; anything
    /// else to the request whose stream it came on, else to the unsolicited queue.
    fn route(
        &self,
        message: Value,
        origin: Option<&str>,
        unsolicited: &mpsc::UnboundedSender<Value>,
    ) {
        if jsonrpc::kind(&message) == Kind::Response {
            let found = message
                .get("id")
                .map(key)
                .and_then(|k| self.map().remove(&k));
            match found {
                Some(tx) => {
                    let _ = tx.send(Reply::Response(message));
                }
                // (Not the message itself: it could quote the token.)
                None => tracing::debug!(
                    "an answer to no request in flight (id {:?})",
                    message.get("id")
                ),
            }
            return;
        }
        if let Some(tx) = origin.and_then(|k| self.map().get(k).cloned()) {
            let _ = tx.send(Reply::Message(message));
            return;
        }
        let _ = unsolicited.send(message);
    }

    fn fail(&self, key: &str, why: String) {
        if let Some(tx) = self.map().remove(key) {
            let _ = tx.send(Reply::Failed(why));
        }
    }

    fn fail_all(&self, why: &str) {
        for (_, tx) in self.map().drain() {
            let _ = tx.send(Reply::Failed(why.to_string()));
        }
    }
}

/// One request on its way: dropping it stops reading its stream (which, on
/// 2026-07-28, is how a request is cancelled).
pub struct InFlight {
    rx: mpsc::UnboundedReceiver<Reply>,
    key: String,
    pending: Arc<Pending>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl InFlight {
    pub async fn next(&mut self) -> Reply {
        self.rx
            .recv()
            .await
            .unwrap_or_else(|| Reply::Failed("the way to the server closed".into()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.pending.map().remove(&self.key);
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
    }
}

/// The era the server speaks, and what it said when asked.
#[derive(Debug, Clone)]
pub enum Era {
    /// 2026-07-28 or later: the version to send, and the `server/discover` result.
    Modern { version: String, discover: Value },
    /// The handshake revisions: the server's answer to `initialize`.
    Legacy { answer: Value },
}

/// What the proxy says first, in both forms, so it can ask either era.
pub struct Hello {
    /// `_meta` for a 2026-07-28 request (version, capabilities, client info).
    pub meta: Map<String, Value>,
    /// An `initialize` request for a server of the handshake era.
    pub initialize: Value,
}

enum Transport {
    Streamable(Arc<Streamable>),
    Sse(Arc<LegacySse>),
}

pub struct Upstream {
    transport: Transport,
    pending: Arc<Pending>,
    /// Why the one stream of an HTTP+SSE server ended (its session with it).
    ended: Arc<Mutex<Option<String>>>,
    /// The GET stream's task is running.
    listening: std::sync::atomic::AtomicBool,
    /// True from the client's `notifications/initialized` until the first GET
    /// has its answer: requests wait for it, because a legacy server sends
    /// its own requests (an `elicitation/create` a tool asks for, say) on the
    /// GET stream and drops them when none is open yet.
    opening: tokio::sync::watch::Sender<bool>,
    unsolicited: mpsc::UnboundedSender<Value>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop_background();
    }
}

/// Reads a `-32022` error: the versions the server would take.
fn supported_versions(error: &Value) -> Vec<String> {
    error
        .pointer("/data/supported")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// How a `server/discover` probe came out.
enum ProbeOutcome {
    Modern(Value),
    TryVersion(String),
    Legacy,
}

fn classify(answer: Option<&Value>, error: Option<&Value>, asked: &str) -> ProbeOutcome {
    if let Some(result) = answer.and_then(|a| a.get("result")) {
        if result.get("supportedVersions").is_some_and(Value::is_array) {
            return ProbeOutcome::Modern(result.clone());
        }
        // A legacy server that answers anything with `{}` (the suite has one).
        return ProbeOutcome::Legacy;
    }
    let Some(error) = error.or_else(|| answer.and_then(|a| a.get("error"))) else {
        return ProbeOutcome::Legacy;
    };
    match error.get("code").and_then(Value::as_i64) {
        Some(UNSUPPORTED_VERSION) => {
            let supported = supported_versions(error);
            // Only revisions without the handshake can be asked this way.
            match supported
                .iter()
                .find(|v| v.as_str() >= MODERN && v.as_str() != asked)
            {
                Some(v) => ProbeOutcome::TryVersion(v.clone()),
                None if supported.iter().any(|v| v.as_str() == asked) => {
                    ProbeOutcome::TryVersion(asked.to_string())
                }
                None => ProbeOutcome::Legacy,
            }
        }
        Some(jsonrpc::HEADER_MISMATCH | jsonrpc::MISSING_CAPABILITY) => {
            ProbeOutcome::Modern(json!({}))
        }
        _ => ProbeOutcome::Legacy,
    }
}

impl Upstream {
    /// Finds the server's era and transport, and opens the way to it. Returns
    /// the queue of what the server sends outside any request.
    pub async fn connect(
        wire: Wire,
        url: Url,
        hello: Hello,
    ) -> Result<(Self, Era, mpsc::UnboundedReceiver<Value>), WireError> {
        let (unsolicited, queue) = mpsc::unbounded_channel();
        let streamable = Arc::new(Streamable::new(wire.clone(), url.clone()));
        streamable.set_modern(true);
        let mut version = hello
            .meta
            .get(META_VERSION)
            .and_then(Value::as_str)
            .unwrap_or(MODERN)
            .to_string();
        let mut retried = false;
        loop {
            let mut meta = hello.meta.clone();
            meta.insert(META_VERSION.into(), Value::String(version.clone()));
            let probe = json!({"jsonrpc": "2.0", "id": streamable.own_id(),
                               "method": "server/discover", "params": {"_meta": meta}});
            let outcome = match streamable.call(&probe).await {
                Ok(answer) => classify(Some(&answer), None, &version),
                // Not reached, or sign-in gave up: no other form would fare better.
                Err(e @ (WireError::Auth(_) | WireError::Transport(_))) => return Err(e),
                Err(e) => classify(None, e.rpc_error(), &version),
            };
            match outcome {
                ProbeOutcome::Modern(discover) => {
                    let upstream = Self::new(Transport::Streamable(streamable), unsolicited);
                    return Ok((upstream, Era::Modern { version, discover }, queue));
                }
                ProbeOutcome::TryVersion(v) if !retried => {
                    retried = true;
                    version = v;
                }
                _ => break,
            }
        }
        streamable.set_modern(false);
        let initialize = hello.initialize;
        match streamable.call(&initialize).await {
            Ok(answer) => {
                if let Some(v) = answer
                    .pointer("/result/protocolVersion")
                    .and_then(Value::as_str)
                {
                    streamable.set_version(Some(v.to_string()));
                }
                streamable.remember_handshake(initialize);
                let upstream = Self::new(Transport::Streamable(streamable), unsolicited);
                Ok((upstream, Era::Legacy { answer }, queue))
            }
            Err(WireError::Status { status, .. }) if (400..500).contains(&status) => {
                Self::connect_sse(wire, url, initialize, unsolicited, queue).await
            }
            Err(e) => Err(e),
        }
    }

    async fn connect_sse(
        wire: Wire,
        url: Url,
        initialize: Value,
        unsolicited: mpsc::UnboundedSender<Value>,
        queue: mpsc::UnboundedReceiver<Value>,
    ) -> Result<(Self, Era, mpsc::UnboundedReceiver<Value>), WireError> {
        let (tx, mut deliveries) = mpsc::unbounded_channel();
        let limit = wire.limits.own;
        let sse = LegacySse::connect(wire, url.clone(), tx).await?;
        let upstream = Self::new(Transport::Sse(Arc::new(sse)), unsolicited);
        let pending = upstream.pending.clone();
        let ended = upstream.ended.clone();
        let queue_tx = upstream.unsolicited.clone();
        upstream.spawn(async move {
            while let Some(delivery) = deliveries.recv().await {
                match delivery {
                    Delivery::Message(m) => pending.route(m, None, &queue_tx),
                    Delivery::Closed(why) => {
                        eprintln!("mcpauth proxy: {why}; the session is over");
                        *ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
                        pending.fail_all(&why);
                    }
                }
            }
        });
        let mut first = upstream.request(initialize).await?;
        // Keep-alive comments keep the stream from being idle: bound the wait itself.
        let answer = tokio::time::timeout(limit, async {
            loop {
                match first.next().await {
                    Reply::Response(answer) => return Ok(answer),
                    Reply::Message(m) => {
                        let _ = upstream.unsolicited.send(m);
                    }
                    Reply::Failed(why) => return Err(WireError::Transport(why)),
                }
            }
        })
        .await
        .map_err(|_| {
            WireError::Transport(format!(
                "{url} did not answer initialize within {} s",
                limit.as_secs()
            ))
        })??;
        drop(first);
        Ok((upstream, Era::Legacy { answer }, queue))
    }

    fn new(transport: Transport, unsolicited: mpsc::UnboundedSender<Value>) -> Self {
        Self {
            transport,
            pending: Arc::new(Pending::default()),
            ended: Arc::new(Mutex::new(None)),
            listening: std::sync::atomic::AtomicBool::new(false),
            opening: tokio::sync::watch::Sender::new(false),
            unsolicited,
            background: Mutex::new(Vec::new()),
        }
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tokio::spawn(task));
    }

    pub fn is_modern(&self) -> bool {
        matches!(&self.transport, Transport::Streamable(s) if s.is_modern())
    }

    /// The Streamable HTTP transport, when that is the one in use.
    pub fn streamable(&self) -> Option<&Arc<Streamable>> {
        match &self.transport {
            Transport::Streamable(s) => Some(s),
            Transport::Sse(_) => None,
        }
    }

    /// A handle on the upstream id of a request that has been sent.
    pub async fn request(&self, message: Value) -> Result<InFlight, WireError> {
        self.check_open()?;
        self.stream_opened().await;
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let key = key(&id);
        let (tx, rx) = mpsc::unbounded_channel();
        self.pending.map().insert(key.clone(), tx);
        let mut in_flight = InFlight {
            rx,
            key: key.clone(),
            pending: self.pending.clone(),
            reader: None,
        };
        match &self.transport {
            Transport::Sse(sse) => sse.post(&message).await?,
            Transport::Streamable(streamable) => {
                match streamable.post(&message, Deadline::Relayed).await? {
                    // A legacy server may answer on its GET stream; a 2026-07-28 one has none.
                    Posted::Accepted if streamable.is_modern() => {
                        return Err(WireError::Protocol(format!(
                            "{} accepted a request without answering it",
                            streamable.url
                        )))
                    }
                    // ...and one without a session has no GET stream to answer on.
                    Posted::Accepted if streamable.session().is_none() => {
                        return Err(WireError::Protocol(format!(
                            "{} accepted a request without answering it, and has no stream to answer on",
                            streamable.url
                        )))
                    }
                    Posted::Accepted => {}
                    Posted::Json(v) => {
                        self.pending.route(v, Some(&key), &self.unsolicited);
                        if self.pending.contains(&key) {
                            return Err(WireError::Protocol(format!(
                                "{} answered with JSON that is not the request's answer",
                                streamable.url
                            )));
                        }
                    }
                    Posted::Stream(events) => {
                        let pending = self.pending.clone();
                        let unsolicited = self.unsolicited.clone();
                        let mut resuming = Resuming::new(streamable.clone(), *events);
                        in_flight.reader = Some(tokio::spawn(async move {
                            loop {
                                match resuming.next(|| !pending.contains(&key)).await {
                                    Ok(m) => {
                                        pending.route(m, Some(&key), &unsolicited);
                                        if !pending.contains(&key) {
                                            return;
                                        }
                                    }
                                    Err(why) => {
                                        pending.fail(&key, why);
                                        return;
                                    }
                                }
                            }
                        }));
                    }
                }
            }
        }
        Ok(in_flight)
    }

    fn check_open(&self) -> Result<(), WireError> {
        match self
            .ended
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(why) => Err(WireError::Transport(format!(
                "{why}, and with it the session; restart the client to begin a new one"
            ))),
            None => Ok(()),
        }
    }

    /// Sends a notification, or the client's answer to a server request.
    pub async fn send(&self, message: &Value) -> Result<(), WireError> {
        self.check_open()?;
        match &self.transport {
            Transport::Sse(sse) => sse.post(message).await,
            Transport::Streamable(streamable) => {
                match streamable.post(message, Deadline::Own).await? {
                    Posted::Accepted => Ok(()),
                    Posted::Json(v) => {
                        self.pending.route(v, None, &self.unsolicited);
                        Ok(())
                    }
                    Posted::Stream(mut events) => {
                        while let Ok(m) = events.next_message().await {
                            self.pending.route(m, None, &self.unsolicited);
                        }
                        Ok(())
                    }
                }
            }
        }
    }

    /// Whether this session gets a GET stream: a legacy Streamable HTTP one
    /// with a session id (HTTP+SSE has only its one stream, already read).
    fn has_get_stream(&self) -> bool {
        matches!(&self.transport, Transport::Streamable(s) if !s.is_modern() && s.session().is_some())
    }

    /// Called when the client's `notifications/initialized` is seen, before
    /// anything after it is sent: requests from here on wait until the GET
    /// stream is open (or refused), so nothing the server sends on it is lost.
    pub fn expect_stream(&self) {
        if self.has_get_stream() && !self.listening.load(std::sync::atomic::Ordering::SeqCst) {
            self.opening.send_replace(true);
        }
    }

    /// Waits while the first GET is on its way. Bounded: a server that never
    /// answers a GET must not hold every request (the stream task keeps trying).
    async fn stream_opened(&self) {
        let mut opening = self.opening.subscribe();
        let bound = Duration::from_secs(10);
        if tokio::time::timeout(bound, opening.wait_for(|o| !*o))
            .await
            .is_err()
        {
            tracing::debug!(
                "the GET stream has no answer after {} s; sending without it",
                bound.as_secs()
            );
            self.opening.send_replace(false);
        }
    }

    /// Opens the legacy GET stream for messages outside requests (SPEC §6.1),
    /// kept open with reconnects that honour `retry:` and `Last-Event-ID`.
    pub fn listen_for_server_messages(&self) {
        let Transport::Streamable(streamable) = &self.transport else {
            return; // HTTP+SSE has only its one stream, already read
        };
        if !self.has_get_stream() {
            self.opening.send_replace(false);
            return; // no session, no GET stream
        }
        if self
            .listening
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return; // one GET stream per session (a second initialized changes nothing)
        }
        self.opening.send_replace(true);
        let opening = self.opening.clone();
        let streamable = streamable.clone();
        let pending = self.pending.clone();
        let unsolicited = self.unsolicited.clone();
        self.spawn(async move {
            let mut last_id: Option<String> = None;
            let mut retry: Option<Duration> = None;
            let mut failures: u32 = 0;
            loop {
                let got = streamable.get_stream(last_id.as_deref()).await;
                // Open, refused or failed: the requests that waited go now.
                opening.send_replace(false);
                match got {
                    Ok(None) => return, // 405: the server offers no stream
                    Ok(Some(mut events)) => {
                        while let Ok(m) = events.next_message().await {
                            failures = 0;
                            pending.route(m, None, &unsolicited);
                        }
                        if let Some(id) = events.last_event_id() {
                            last_id = Some(id.to_string());
                        }
                        retry = events.retry().or(retry);
                    }
                    Err(WireError::Status { status: 404, .. }) => {
                        let lost = streamable.session();
                        if let Err(e) = streamable.reinitialize(lost.as_deref()).await {
                            eprintln!("mcpauth proxy: {}", e.describe(streamable.url.as_str()));
                            return;
                        }
                        last_id = None;
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::debug!("GET stream: {}", e.describe(streamable.url.as_str()));
                        if matches!(e, WireError::Auth(_)) || failures > 10 {
                            eprintln!(
                                "mcpauth proxy: no longer listening for server messages: {}",
                                e.describe(streamable.url.as_str())
                            );
                            return;
                        }
                    }
                }
                // (A server's `retry: 0` must not make this spin.)
                let base = retry
                    .unwrap_or(Duration::from_secs(1))
                    .max(Duration::from_millis(100));
                let wait = base * 2u32.saturating_pow(failures.min(5));
                tokio::time::sleep(wait.min(Duration::from_secs(30)).max(base)).await;
            }
        });
    }

    fn stop_background(&self) {
        for task in super::lock(&self.background).drain(..) {
            task.abort();
        }
    }

    /// Ends the session (legacy `DELETE`) and stops listening.
    pub async fn close(&self) {
        self.stop_background();
        if let Transport::Streamable(s) = &self.transport {
            s.delete().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_answers_are_read_as_the_spec_says() {
        let discover = json!({"result": {"supportedVersions": ["2026-07-28"], "capabilities": {}}});
        assert!(matches!(
            classify(Some(&discover), None, MODERN),
            ProbeOutcome::Modern(_)
        ));
        // The suite's raw legacy servers answer anything with an empty result.
        assert!(matches!(
            classify(Some(&json!({"result": {}})), None, MODERN),
            ProbeOutcome::Legacy
        ));
        let unsupported = json!({"code": -32022, "data": {"supported": ["2026-07-28"], "requested": "2026-07-28"}});
        assert!(matches!(
            classify(None, Some(&unsupported), MODERN),
            ProbeOutcome::TryVersion(v) if v == MODERN
        ));
        let only_legacy = json!({"code": -32022, "data": {"supported": ["2025-11-25"]}});
        assert!(matches!(
            classify(None, Some(&only_legacy), MODERN),
            ProbeOutcome::Legacy
        ));
        let unknown = json!({"code": -32601, "message": "Method not found"});
        assert!(matches!(
            classify(None, Some(&unknown), MODERN),
            ProbeOutcome::Legacy
        ));
        let session =
            json!({"code": -32000, "message": "Bad Request: No valid session ID provided"});
        assert!(matches!(
            classify(None, Some(&session), MODERN),
            ProbeOutcome::Legacy
        ));
    }
}
