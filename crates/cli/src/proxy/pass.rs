//! The same era on both sides: a client request forwarded under an upstream
//! id of the proxy's, its messages to the client and its answer back; the
//! server's requests to the client, and the ids in them.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use std::sync::atomic::Ordering;

use super::bridge::{Bridge, Connected, Mode, ToClient};
use super::jsonrpc::{self, key, Kind, META_SUBSCRIPTION, PROXY_ERROR};
use super::lock;
use super::upstream::Era;
use super::upstream::{InFlight, Reply};
use super::wire::WireError;

impl Bridge {
    /// Same era on both sides: forward, adding what the transport needs.
    pub(super) async fn pass(
        self: &Arc<Self>,
        connected: &Connected,
        message: Value,
    ) -> Option<Value> {
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

    pub(super) fn finish_pass(
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
                    Reply::Message(m) => self.from_server(connected, m).await,
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

    /// A message from the server, on a request's stream or outside any (a
    /// 2026-07-28 client's calls to a legacy server read their own streams,
    /// see `to_legacy`).
    pub async fn from_server(self: &Arc<Self>, connected: &Connected, message: Value) {
        match connected.mode {
            Mode::ToLegacy => return self.legacy_message(connected, message).await,
            Mode::ToModern => return self.modern_message(message),
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
    pub(super) fn map_server_cancellation(&self, message: &mut Value) -> bool {
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
    pub(super) fn map_subscription_back(&self, message: &mut Value) {
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
