//! A 2026-07-28 client and a server of the handshake era: the proxy holds
//! the legacy session itself (`initialize` with the client's capabilities),
//! answers `server/discover` from it, checks each request's `_meta`, turns
//! the server's requests during a call into an input-required result and
//! answers them when the client re-issues the call, and emulates
//! `subscriptions/listen` on the GET stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::bridge::{Bridge, Connected};
use super::jsonrpc::key;
use super::jsonrpc::{
    self, Kind, INVALID_PARAMS, META_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL,
    META_SERVER_INFO, META_VERSION, MODERN, PROXY_ERROR, UNSUPPORTED_VERSION,
};
use super::lock;
use super::to_modern::INPUT_METHODS;
use super::upstream::{Era, InFlight, Reply};

/// How long a call waits for the client to come back with its input.
const CONTINUATION_TTL: Duration = Duration::from_secs(600);
/// Calls held for input at once; each keeps a stream to the server open.
const CONTINUATIONS: usize = 64;
/// Results a 2026-07-28 client may cache, and so must carry caching hints.
const CACHEABLE: [&str; 5] = [
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];
/// Server requests a 2026-07-28 client answers as input requests.
const INPUT_REQUESTS: [&str; 3] = ["elicitation/create", "sampling/createMessage", "roots/list"];

/// A call waiting for the client's input: its upstream request stays open.
struct Continuation {
    call: LegacyCall,
    /// Input request name → (the server's request id, the request).
    asked: Map<String, Value>,
    created: Instant,
}

/// A call on its way to the legacy server.
struct LegacyCall {
    in_flight: InFlight,
    method: String,
    upstream_id: Value,
    wants_logs: bool,
}

pub(super) struct Listen {
    pub(super) id: Value,
    pub(super) accepted: Value,
}

#[derive(Default)]
pub struct LegacyState {
    /// The `initialize` result the session began with.
    pub(super) init: Value,
    /// Why the session could not begin, if it could not.
    broken: Option<String>,
    log_level: Option<String>,
    pub(super) listens: HashMap<String, Listen>,
    continuations: HashMap<String, Continuation>,
}

/// 2026-07-28 capabilities (a client's or a server's) in the handshake
/// form: without `extensions`, which the handshake revisions do not know.
pub fn legacy_capabilities(modern: &Value) -> Value {
    let mut caps = modern.as_object().cloned().unwrap_or_default();
    caps.remove("extensions");
    Value::Object(caps)
}

fn modern_server_capabilities(legacy: &Value) -> Value {
    let mut caps = legacy.as_object().cloned().unwrap_or_default();
    caps.remove("tasks"); // an extension in 2026-07-28, not offered here
    Value::Object(caps)
}

impl Bridge {
    /// Right after the handshake: tell the server so, and open its GET stream.
    pub async fn start_legacy_session(self: &Arc<Self>, connected: &Arc<Connected>) {
        let Era::Legacy { answer } = &connected.era else {
            return;
        };
        {
            let mut state = lock(&self.legacy_state);
            match (answer.get("result"), answer.get("error")) {
                (Some(result), _) => state.init = result.clone(),
                (None, error) => {
                    state.broken = Some(format!(
                        "{} refused the session: {}",
                        self.url,
                        error.map(Value::to_string).unwrap_or_default()
                    ));
                    return;
                }
            }
        }
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        if let Some(s) = connected.upstream.streamable() {
            s.remember_initialized(initialized.clone());
        }
        if let Err(e) = connected.upstream.send(&initialized).await {
            self.log(&format!(
                "could not complete the handshake: {}",
                self.describe(&e)
            ));
        }
        connected.upstream.listen_for_server_messages();
    }

    pub async fn to_legacy(
        self: &Arc<Self>,
        connected: &Arc<Connected>,
        message: Value,
    ) -> Option<Value> {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let method = jsonrpc::method(&message).unwrap_or("").to_string();
        match jsonrpc::meta_version(&message) {
            None => {
                return Some(jsonrpc::error(
                    id,
                    INVALID_PARAMS,
                    format!(
                        "{method} has no _meta[\"{META_VERSION}\"] (required since 2026-07-28)"
                    ),
                ))
            }
            Some(v) if v != MODERN => {
                return Some(jsonrpc::error_with_data(
                    id,
                    UNSUPPORTED_VERSION,
                    "Unsupported protocol version",
                    json!({"supported": [MODERN], "requested": v}),
                ))
            }
            Some(_) => {}
        }
        if let Some(why) = lock(&self.legacy_state).broken.clone() {
            return Some(jsonrpc::error(id, PROXY_ERROR, why));
        }
        match method.as_str() {
            "server/discover" => Some(jsonrpc::result(id, self.local_discover())),
            "subscriptions/listen" => self.emulate_listen(connected, &message, id).await,
            _ => {
                let handle = message
                    .pointer("/params/requestState")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                match handle {
                    Some(h) => self.continue_call(connected, message, id, &h).await,
                    None => self.legacy_call(connected, message, id, method).await,
                }
            }
        }
    }

    fn local_discover(&self) -> Value {
        let init = lock(&self.legacy_state).init.clone();
        let mut result = json!({
            "resultType": "complete",
            "supportedVersions": [MODERN],
            "capabilities": modern_server_capabilities(init.get("capabilities").unwrap_or(&json!({}))),
            "ttlMs": 0,
            "cacheScope": "private",
        });
        if let Some(info) = init.get("serverInfo") {
            result["_meta"] = json!({ META_SERVER_INFO: info });
        }
        if let Some(instructions) = init.get("instructions") {
            result["instructions"] = instructions.clone();
        }
        result
    }

    async fn legacy_call(
        self: &Arc<Self>,
        connected: &Arc<Connected>,
        message: Value,
        id: Value,
        method: String,
    ) -> Option<Value> {
        let mut params = message
            .get("params")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let level = params
            .get("_meta")
            .and_then(|m| m.get(META_LOG_LEVEL))
            .and_then(Value::as_str)
            .map(str::to_string);
        jsonrpc::strip_meta(
            &mut params,
            &[
                META_VERSION,
                META_CAPABILITIES,
                META_CLIENT_INFO,
                META_LOG_LEVEL,
            ],
        );
        params.remove("inputResponses");
        if let Some(level) = &level {
            self.set_legacy_log_level(connected, level).await;
        }
        let upstream_id = self.next_id();
        let mut request = json!({"jsonrpc": "2.0", "id": upstream_id, "method": method});
        if !params.is_empty() || message.get("params").is_some() {
            request["params"] = Value::Object(params);
        }
        let in_flight = match self.send_request(connected, &id, request).await? {
            Ok(f) => f,
            Err(e) => return Some(self.error_answer(id, &e)),
        };
        let call = LegacyCall {
            in_flight,
            method,
            upstream_id,
            wants_logs: level.is_some(),
        };
        self.follow_legacy(connected, id, call).await
    }

    /// Logging is per session in the handshake era: the level the latest request asked for.
    async fn set_legacy_log_level(&self, connected: &Connected, level: &str) {
        if lock(&self.legacy_state).log_level.as_deref() == Some(level) {
            return;
        }
        let Some(s) = connected.upstream.streamable() else {
            return;
        };
        let request = json!({"jsonrpc": "2.0", "id": s.own_id(), "method": "logging/setLevel", "params": {"level": level}});
        match s.call(&request).await {
            Ok(_) => lock(&self.legacy_state).log_level = Some(level.to_string()),
            Err(e) => self.log(&format!(
                "could not set the log level: {}",
                self.describe(&e)
            )),
        }
    }

    /// Follows a call; a server request for input suspends it and answers the
    /// client with an input-required result.
    async fn follow_legacy(
        self: &Arc<Self>,
        connected: &Arc<Connected>,
        id: Value,
        mut call: LegacyCall,
    ) -> Option<Value> {
        let (cancel, mut injected) = self.register_call(&id, &call.upstream_id);
        loop {
            let message = tokio::select! {
                reply = call.in_flight.next() => match reply {
                    Reply::Message(m) => m,
                    Reply::Response(r) => return Some(self.modern_answer(r, id, &call.method)),
                    Reply::Failed(why) => return Some(jsonrpc::error(id, PROXY_ERROR, why)),
                },
                Some(m) = injected.recv() => m,
                _ = cancel.cancelled() => return None,
            };
            match jsonrpc::kind(&message) {
                Kind::Request => {
                    let server_method = jsonrpc::method(&message).unwrap_or("").to_string();
                    if server_method == "ping" {
                        self.answer_server(connected, &message, Ok(json!({}))).await;
                    } else if INPUT_REQUESTS.contains(&server_method.as_str())
                        && INPUT_METHODS.contains(&call.method.as_str())
                    {
                        return Some(self.suspend(call, id, message));
                    } else {
                        self.refuse_server_request(connected, &message).await;
                    }
                }
                Kind::Notification => self.legacy_notification_in_call(&message, call.wants_logs),
                _ => {}
            }
        }
    }

    fn register_call(
        &self,
        id: &Value,
        upstream_id: &Value,
    ) -> (CancellationToken, mpsc::UnboundedReceiver<Value>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut calls = lock(&self.calls);
        match calls.get_mut(&key(id)) {
            Some(call) => {
                call.upstream_id = Some(upstream_id.clone());
                call.inject = Some(tx);
                (call.cancel.clone(), rx)
            }
            None => (CancellationToken::new(), rx),
        }
    }

    fn suspend(&self, call: LegacyCall, id: Value, request: Value) -> Value {
        let handle = format!("mcpauth-{}", uuid_like());
        let name = format!(
            "input-{}",
            key(request.get("id").unwrap_or(&Value::Null)).trim_matches('"')
        );
        let method = jsonrpc::method(&request).unwrap_or("").to_string();
        let mut params = request.get("params").cloned().unwrap_or_else(|| json!({}));
        if let Some(p) = params.as_object_mut() {
            p.remove("elicitationId"); // 2026-07-28 has none
            p.remove("task");
        }
        let mut asked = Map::new();
        asked.insert(
            name.clone(),
            json!({"id": request.get("id"), "method": method, "params": params}),
        );
        let input_requests = json!({ name: {"method": method, "params": params} });
        let mut state = lock(&self.legacy_state);
        let expired: Vec<String> = state
            .continuations
            .iter()
            .filter(|(_, c)| c.created.elapsed() > CONTINUATION_TTL)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            state.continuations.remove(&k); // dropping the call stops reading it
        }
        if state.continuations.len() >= CONTINUATIONS {
            let oldest = state
                .continuations
                .iter()
                .min_by_key(|(_, c)| c.created)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                state.continuations.remove(&k);
            }
        }
        state.continuations.insert(
            handle.clone(),
            Continuation {
                call,
                asked,
                created: Instant::now(),
            },
        );
        jsonrpc::result(
            id,
            json!({"resultType": "input_required", "inputRequests": input_requests, "requestState": handle}),
        )
    }

    /// The client re-issued a suspended call with its answers.
    async fn continue_call(
        self: &Arc<Self>,
        connected: &Arc<Connected>,
        message: Value,
        id: Value,
        handle: &str,
    ) -> Option<Value> {
        let Some(continuation) = lock(&self.legacy_state).continuations.remove(handle) else {
            return Some(jsonrpc::error(
                id,
                INVALID_PARAMS,
                "requestState names no call this proxy is holding (it expired, or was answered)",
            ));
        };
        let responses = message
            .pointer("/params/inputResponses")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut missing = Map::new();
        for (name, asked) in &continuation.asked {
            let server_request = json!({"id": asked.get("id")});
            match responses.get(name) {
                Some(result) => {
                    self.answer_server(connected, &server_request, Ok(result.clone()))
                        .await;
                }
                None => {
                    missing.insert(name.clone(), asked.clone());
                }
            }
        }
        if !missing.is_empty() {
            // Ask again for what is still missing (SEP-2322: not an error).
            let input_requests: Map<String, Value> = missing
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        json!({"method": v["method"], "params": v["params"]}),
                    )
                })
                .collect();
            lock(&self.legacy_state).continuations.insert(
                handle.to_string(),
                Continuation {
                    asked: missing,
                    ..continuation
                },
            );
            return Some(jsonrpc::result(
                id,
                json!({"resultType": "input_required", "inputRequests": input_requests, "requestState": handle}),
            ));
        }
        self.follow_legacy(connected, id, continuation.call).await
    }

    async fn answer_server(
        &self,
        connected: &Connected,
        request: &Value,
        answer: Result<Value, (i64, String)>,
    ) {
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let message = match answer {
            Ok(result) => jsonrpc::result(id, result),
            Err((code, text)) => jsonrpc::error(id, code, text),
        };
        if let Err(e) = connected.upstream.send(&message).await {
            self.log(&format!(
                "could not answer the server: {}",
                self.describe(&e)
            ));
        }
    }

    async fn refuse_server_request(&self, connected: &Connected, request: &Value) {
        let method = jsonrpc::method(request).unwrap_or("");
        self.answer_server(
            connected,
            request,
            Err((
                jsonrpc::INTERNAL_ERROR,
                format!(
                    "the client speaks MCP 2026-07-28, where a server asks for input ({method}) only in the answer to tools/call, prompts/get or resources/read"
                ),
            )),
        )
        .await;
    }

    /// A legacy answer in the form a 2026-07-28 client reads.
    fn modern_answer(&self, mut answer: Value, id: Value, method: &str) -> Value {
        answer["id"] = id;
        let server_info = lock(&self.legacy_state).init.get("serverInfo").cloned();
        if let Some(result) = answer.get_mut("result").and_then(Value::as_object_mut) {
            result
                .entry("resultType")
                .or_insert_with(|| Value::String("complete".into()));
            if CACHEABLE.contains(&method) {
                result.entry("ttlMs").or_insert_with(|| Value::from(0));
                result
                    .entry("cacheScope")
                    .or_insert_with(|| Value::String("private".into()));
            }
            if let (Some(info), Some(meta)) = (server_info, jsonrpc::meta_mut(result)) {
                meta.entry(META_SERVER_INFO).or_insert(info);
            }
        }
        answer
    }

    /// A notification on a call's stream.
    fn legacy_notification_in_call(&self, message: &Value, wants_logs: bool) {
        match jsonrpc::method(message).unwrap_or("") {
            "notifications/message" if !wants_logs => {}
            "notifications/elicitation/complete" | "notifications/cancelled" => {}
            m if m.ends_with("/list_changed") || m == "notifications/resources/updated" => {
                self.to_listens(message);
            }
            _ => self.out.send(message),
        }
    }

    /// A legacy server's message outside any call's stream.
    pub async fn legacy_message(self: &Arc<Self>, connected: &Connected, message: Value) {
        match jsonrpc::kind(&message) {
            Kind::Request => {
                let method = jsonrpc::method(&message).unwrap_or("");
                if method == "ping" {
                    return self.answer_server(connected, &message, Ok(json!({}))).await;
                }
                // Some servers send a call's requests on the GET stream (or have
                // only one stream): the call they belong to is the one in
                // progress, when there is exactly one that can take input.
                let target = {
                    let calls = lock(&self.calls);
                    let mut eligible = calls
                        .values()
                        .filter(|c| INPUT_METHODS.contains(&c.method.as_str()))
                        .filter_map(|c| c.inject.clone());
                    match (eligible.next(), eligible.next()) {
                        (Some(only), None) => Some(only),
                        _ => None,
                    }
                };
                let refused = match target {
                    Some(tx) if INPUT_REQUESTS.contains(&method) => {
                        tx.send(message.clone()).is_err()
                    }
                    _ => true,
                };
                if refused {
                    self.refuse_server_request(connected, &message).await;
                }
            }
            Kind::Notification => match jsonrpc::method(&message).unwrap_or("") {
                m if m.ends_with("/list_changed") || m == "notifications/resources/updated" => {
                    self.to_listens(&message)
                }
                // Logging belongs to a request in 2026-07-28; one outside any is dropped.
                "notifications/message"
                | "notifications/cancelled"
                | "notifications/elicitation/complete" => {}
                _ => self.out.send(&message),
            },
            _ => {}
        }
    }
}

/// An unguessable handle for a suspended call (it is the client's `requestState`).
fn uuid_like() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
