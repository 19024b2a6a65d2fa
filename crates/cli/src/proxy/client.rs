//! What the client sends besides its requests: answers to the requests the
//! proxy passed it (the server's, or the proxy's own), and notifications
//! (cancellations above all), sent on in order through the connection's outbox.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::bridge::{Bridge, Mode, Outgoing, ToClient};
use super::jsonrpc::{self, key, META_CAPABILITIES, META_CLIENT_INFO, META_VERSION};
use super::lock;

impl Bridge {
    /// The client answered a request the proxy sent it.
    pub(super) async fn client_response(self: &Arc<Self>, message: Value) {
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
    pub(super) async fn client_notification(self: &Arc<Self>, message: Value) {
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
            connected.upstream.expect_stream();
        }
        connected.post(message);
        if initialized {
            let _ = connected.outbox.send(Outgoing::Listen);
        }
    }

    pub(super) fn client_cancelled(self: &Arc<Self>, message: Value) {
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
}
