//! A client of the handshake era (2024-11-05 to 2025-11-25) and a server of
//! 2026-07-28: the proxy answers `initialize` from `server/discover`, puts
//! the 2026-07-28 `_meta` on every request, answers what the revision removed
//! (`ping`, `logging/setLevel`, `resources/subscribe`), turns input-required
//! results into requests to the client and re-issues the call with its
//! answers, and listens (`subscriptions/listen`) for the notifications a
//! handshake client gets unasked.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use super::bridge::{own_info, Bridge, Connected};
use super::jsonrpc::{
    self, Kind, HEADER_MISMATCH, LATEST_LEGACY, LEGACY_VERSIONS, META_CAPABILITIES,
    META_CLIENT_INFO, META_LOG_LEVEL, META_SERVER_INFO, META_SUBSCRIPTION, META_VERSION, MODERN,
    PROXY_ERROR,
};
use super::lock;
use super::upstream::{Era, Reply};

/// Input-required rounds one call may take before the proxy gives up.
const MAX_ROUNDS: usize = 16;

/// The methods that may answer with an input-required result (SEP-2322).
pub const INPUT_METHODS: [&str; 3] = ["tools/call", "prompts/get", "resources/read"];

#[derive(Default)]
pub struct ModernState {
    /// The level a `logging/setLevel` asked for, sent on every request.
    log_level: Option<String>,
    /// The resources the client subscribed to.
    resources: BTreeSet<String>,
    listen: Option<tokio::task::JoinHandle<()>>,
}

/// A handshake client's capabilities in the 2026-07-28 form.
pub fn modern_capabilities(legacy: &Value) -> Value {
    let mut caps = legacy.as_object().cloned().unwrap_or_default();
    if caps.contains_key("roots") {
        caps.insert("roots".into(), json!({})); // listChanged is gone
    }
    caps.remove("tasks"); // an extension now, not declared here
    Value::Object(caps)
}

pub fn is_header_mismatch(answer: &Value) -> bool {
    answer.pointer("/error/code").and_then(Value::as_i64) == Some(HEADER_MISMATCH)
}

/// A result without what a handshake client does not know.
fn clean_result(result: &mut Value) {
    if let Some(object) = result.as_object_mut() {
        object.remove("resultType");
        object.remove("ttlMs");
        object.remove("cacheScope");
    }
}

impl Bridge {
    fn modern_meta(&self, connected: &Connected, existing: Option<&Value>) -> Map<String, Value> {
        let version = match &connected.era {
            Era::Modern { version, .. } => version.clone(),
            Era::Legacy { .. } => MODERN.to_string(),
        };
        let mut meta = existing
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let client = lock(&self.client).clone();
        meta.insert(META_VERSION.into(), Value::String(version));
        meta.insert(
            META_CAPABILITIES.into(),
            modern_capabilities(&client.capabilities),
        );
        meta.insert(
            META_CLIENT_INFO.into(),
            client.info.unwrap_or_else(own_info),
        );
        if let Some(level) = lock(&self.state).log_level.clone() {
            meta.insert(META_LOG_LEVEL.into(), Value::String(level));
        }
        meta
    }

    pub async fn to_modern(
        self: &Arc<Self>,
        connected: &Arc<Connected>,
        message: Value,
    ) -> Option<Value> {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let method = jsonrpc::method(&message).unwrap_or("").to_string();
        let params = message.get("params");
        match method.as_str() {
            "initialize" => Some(jsonrpc::result(id, self.local_initialize(connected))),
            "ping" => Some(jsonrpc::result(id, json!({}))),
            "logging/setLevel" => {
                let level = params.and_then(|p| p.get("level")).and_then(Value::as_str);
                lock(&self.state).log_level = level.map(str::to_string);
                Some(jsonrpc::result(id, json!({})))
            }
            "resources/subscribe" | "resources/unsubscribe" => {
                let Some(uri) = params.and_then(|p| p.get("uri")).and_then(Value::as_str) else {
                    return Some(jsonrpc::error(
                        id,
                        jsonrpc::INVALID_PARAMS,
                        "uri is required",
                    ));
                };
                {
                    let mut state = lock(&self.state);
                    if method == "resources/subscribe" {
                        state.resources.insert(uri.to_string());
                    } else {
                        state.resources.remove(uri);
                    }
                }
                self.restart_listen(connected.clone());
                Some(jsonrpc::result(id, json!({})))
            }
            _ => self.modern_call(connected, message, id, method).await,
        }
    }

    /// The answer to a handshake client's `initialize`, from `server/discover`.
    fn local_initialize(&self, connected: &Connected) -> Value {
        let discover = match &connected.era {
            Era::Modern { discover, .. } => discover.clone(),
            Era::Legacy { .. } => json!({}),
        };
        let version = {
            let mut client = lock(&self.client);
            if !LEGACY_VERSIONS.contains(&client.version.as_str()) {
                client.version = LATEST_LEGACY.to_string();
            }
            client.version.clone()
        };
        let mut result = json!({
            "protocolVersion": version,
            "capabilities": super::to_legacy::legacy_capabilities(discover.get("capabilities").unwrap_or(&json!({}))),
            "serverInfo": discover.pointer(&format!("/_meta/{}", META_SERVER_INFO.replace('/', "~1")))
                .cloned()
                .unwrap_or_else(|| json!({"name": self.url.as_str(), "version": "unknown"})),
        });
        if let Some(instructions) = discover.get("instructions") {
            result["instructions"] = instructions.clone();
        }
        result
    }

    async fn modern_call(
        self: &Arc<Self>,
        connected: &Arc<Connected>,
        message: Value,
        id: Value,
        method: String,
    ) -> Option<Value> {
        let cancel = self.cancel_of(&id);
        let mut params = message
            .get("params")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let meta = self.modern_meta(connected, params.get("_meta"));
        params.insert("_meta".into(), Value::Object(meta.clone()));
        let mut retried_headers = false;
        let mut rounds = 0;
        loop {
            let upstream_id = self.next_id();
            let request =
                json!({"jsonrpc": "2.0", "id": upstream_id, "method": method, "params": params});
            let mut answer = match self.send_request(connected, &id, request).await? {
                Ok(in_flight) => self.follow(connected, &id, upstream_id, in_flight).await?,
                // 2026-07-28's protocol errors come with HTTP 400: an answer all the same.
                Err(e) => self.error_answer(id.clone(), &e),
            };
            answer["id"] = id.clone();
            if answer.get("error").is_some() {
                if is_header_mismatch(&answer) && method == "tools/call" && !retried_headers {
                    retried_headers = true;
                    let mut meta = meta.clone();
                    meta.remove("progressToken");
                    self.refresh_tools(connected, meta).await;
                    continue;
                }
                return Some(answer);
            }
            let result_type = answer
                .pointer("/result/resultType")
                .and_then(Value::as_str)
                .unwrap_or("complete")
                .to_string();
            match result_type.as_str() {
                "complete" => {
                    if let Some(result) = answer.get_mut("result") {
                        clean_result(result);
                        if method == "tools/list" {
                            if let Some(s) = connected.upstream.streamable() {
                                s.learn_tools(result);
                            }
                        }
                    }
                    return Some(answer);
                }
                "input_required" if INPUT_METHODS.contains(&method.as_str()) => {
                    rounds += 1;
                    if rounds > MAX_ROUNDS {
                        return Some(jsonrpc::error(
                            id,
                            PROXY_ERROR,
                            format!("{} asked for input {MAX_ROUNDS} times for one call; gave up", self.url),
                        ));
                    }
                    let result = answer.get("result").cloned().unwrap_or_default();
                    let requests = result
                        .get("inputRequests")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    match self.fulfil(&requests, &cancel).await {
                        Ok(responses) if !responses.is_empty() => {
                            params.insert("inputResponses".into(), Value::Object(responses));
                        }
                        Ok(_) => {
                            params.remove("inputResponses");
                        }
                        Err(why) if why == "cancelled" => return None,
                        Err(why) => return Some(jsonrpc::error(id, PROXY_ERROR, why)),
                    }
                    match result.get("requestState") {
                        Some(state) => params.insert("requestState".into(), state.clone()),
                        None => params.remove("requestState"),
                    };
                }
                other => {
                    return Some(jsonrpc::error(
                        id,
                        PROXY_ERROR,
                        format!("{} answered {method} with a result of type \"{other}\", which this client cannot take", self.url),
                    ))
                }
            }
        }
    }

    /// Asks the client each input request of a 2026-07-28 server, as the
    /// server request of the handshake era it was; all at once.
    async fn fulfil(
        &self,
        requests: &Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<Map<String, Value>, String> {
        let client_version = lock(&self.client).version.clone();
        let client_version = client_version.as_str();
        let asks = requests.iter().map(|(name, request)| {
            let method = request.get("method").and_then(Value::as_str).unwrap_or("").to_string();
            let mut params = request.get("params").cloned();
            async move {
                if method == "elicitation/create"
                    && params.as_ref().and_then(|p| p.get("mode")).and_then(Value::as_str) == Some("url")
                {
                    if client_version < "2025-11-25" {
                        return Err(format!(
                            "{} needs the client to open a web page (URL elicitation), which MCP {client_version} clients cannot do",
                            self.url
                        ));
                    }
                    // 2025-11-25 requires an id that 2026-07-28 dropped.
                    if let Some(p) = params.as_mut().and_then(Value::as_object_mut) {
                        p.entry("elicitationId")
                            .or_insert_with(|| Value::String(format!("mcpauth-{name}")));
                    }
                }
                let answer = self.ask_client(&method, params.as_ref(), cancel).await?;
                match (answer.get("result"), answer.get("error")) {
                    (Some(result), _) => Ok((name.clone(), result.clone())),
                    (None, Some(error)) => Err(format!(
                        "the client could not answer the server's {method}: {}",
                        error.get("message").and_then(Value::as_str).unwrap_or("an error")
                    )),
                    _ => Err(format!("the client answered {method} with nothing")),
                }
            }
        });
        let answers = futures::future::join_all(asks).await;
        let mut out = Map::new();
        for answer in answers {
            let (name, result) = answer?;
            out.insert(name, result);
        }
        Ok(out)
    }

    /// A 2026-07-28 server's message for a handshake client.
    pub fn modern_message(&self, mut message: Value) {
        match jsonrpc::kind(&message) {
            Kind::Notification => {
                let method = jsonrpc::method(&message).unwrap_or("");
                if method == "notifications/subscriptions/acknowledged"
                    || method == "notifications/cancelled"
                {
                    return; // the proxy's own subscription
                }
                if let Some(params) = message.get_mut("params").and_then(Value::as_object_mut) {
                    jsonrpc::strip_meta(params, &[META_SUBSCRIPTION]);
                }
                self.out.send(&message);
            }
            // A 2026-07-28 server sends no requests; one that does is heard anyway.
            Kind::Request => self.forward_server_request(message),
            _ => {}
        }
    }

    /// The subscription task, taken at shutdown.
    pub fn stop_listening(&self) -> Option<tokio::task::JoinHandle<()>> {
        lock(&self.state).listen.take()
    }

    /// A handshake client's notification for a 2026-07-28 server.
    pub async fn modern_notification(self: &Arc<Self>, connected: &Arc<Connected>, message: Value) {
        match jsonrpc::method(&message) {
            Some("notifications/initialized") => self.restart_listen(connected.clone()),
            // Over HTTP the revision has no client notifications (cancelling is
            // closing the stream, handled before this).
            other => tracing::debug!("not passed on to a 2026-07-28 server: {other:?}"),
        }
    }

    /// (Re)opens the subscription for what a handshake client gets unasked:
    /// list changes the server offers, and the resources it subscribed to.
    fn restart_listen(self: &Arc<Self>, connected: Arc<Connected>) {
        let Era::Modern { discover, .. } = &connected.era else {
            return;
        };
        let caps = discover.get("capabilities").cloned().unwrap_or_default();
        let offers = |kind: &str, what: &str| {
            caps.pointer(&format!("/{kind}/{what}")) == Some(&Value::Bool(true))
        };
        let mut filter = Map::new();
        for (kind, field) in [
            ("tools", "toolsListChanged"),
            ("prompts", "promptsListChanged"),
            ("resources", "resourcesListChanged"),
        ] {
            if offers(kind, "listChanged") {
                filter.insert(field.into(), Value::Bool(true));
            }
        }
        let resources: Vec<Value> = lock(&self.state)
            .resources
            .iter()
            .map(|u| Value::String(u.clone()))
            .collect();
        if offers("resources", "subscribe") && !resources.is_empty() {
            filter.insert("resourceSubscriptions".into(), Value::Array(resources));
        }
        let me = self.clone();
        let task = tokio::spawn(async move {
            if filter.is_empty() {
                return;
            }
            let mut failures: u32 = 0;
            loop {
                let meta = me.modern_meta(&connected, None);
                let request = json!({"jsonrpc": "2.0", "id": me.next_id(), "method": "subscriptions/listen",
                                     "params": {"notifications": filter, "_meta": meta}});
                match connected.upstream.request(request).await {
                    Ok(mut in_flight) => loop {
                        let reply = tokio::select! {
                            reply = in_flight.next() => reply,
                            _ = me.shutdown.cancelled() => return,
                        };
                        match reply {
                            Reply::Message(m) => {
                                failures = 0;
                                me.modern_message(m);
                            }
                            Reply::Response(r) if r.get("error").is_some() => {
                                me.log(&format!(
                                    "{} refused to send notifications: {}",
                                    me.url, r["error"]
                                ));
                                return;
                            }
                            Reply::Response(_) => break, // ended by the server: listen again
                            Reply::Failed(why) => {
                                tracing::debug!("subscription ended: {why}");
                                failures += 1;
                                break;
                            }
                        }
                    },
                    Err(e) => {
                        failures += 1;
                        if failures > 5 {
                            me.log(&format!(
                                "no longer listening for notifications: {}",
                                me.describe(&e)
                            ));
                            return;
                        }
                    }
                }
                let wait = Duration::from_secs(1) * 2u32.saturating_pow(failures.min(5));
                tokio::select! {
                    _ = tokio::time::sleep(wait.min(Duration::from_secs(30))) => {}
                    _ = me.shutdown.cancelled() => return,
                }
            }
        });
        if let Some(old) = lock(&self.state).listen.replace(task) {
            old.abort();
        }
    }
}
