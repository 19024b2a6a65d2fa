//! `subscriptions/listen` of a 2026-07-28 client against a server of the
//! handshake era: acknowledged for the list changes the server says it
//! sends (and the resources it lets one subscribe to), fed from the session's
//! GET stream, ended by the client's cancellation or, with a final result, at exit.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::bridge::{Bridge, Connected};
use super::jsonrpc::{self, key, META_SUBSCRIPTION};
use super::lock;
use super::to_legacy::Listen;

impl Bridge {
    /// A change notification to every emulated subscription that asked for it.
    pub(super) fn to_listens(&self, message: &Value) {
        let method = jsonrpc::method(message).unwrap_or("");
        let field = match method {
            "notifications/tools/list_changed" => Some("toolsListChanged"),
            "notifications/prompts/list_changed" => Some("promptsListChanged"),
            "notifications/resources/list_changed" => Some("resourcesListChanged"),
            _ => None,
        };
        let uri = message.pointer("/params/uri").and_then(Value::as_str);
        let state = lock(&self.legacy_state);
        for listen in state.listens.values() {
            let wanted = match (field, uri) {
                (Some(f), _) => listen.accepted.get(f) == Some(&Value::Bool(true)),
                (None, Some(u)) => listen
                    .accepted
                    .get("resourceSubscriptions")
                    .and_then(Value::as_array)
                    .is_some_and(|list| {
                        list.iter()
                            .any(|s| s.as_str().is_some_and(|s| u.starts_with(s)))
                    }),
                _ => false,
            };
            if wanted {
                let mut copy = message.clone();
                if let Some(params) = jsonrpc::params_mut(&mut copy) {
                    if let Some(meta) = jsonrpc::meta_mut(params) {
                        meta.insert(META_SUBSCRIPTION.into(), listen.id.clone());
                    }
                }
                self.out.send(&copy);
            }
        }
    }

    /// `subscriptions/listen` against a legacy server: acknowledged for what the
    /// server offers, fed from its GET stream, ended by the client or at exit.
    pub(super) async fn emulate_listen(
        self: &Arc<Self>,
        connected: &Arc<Connected>,
        message: &Value,
        id: Value,
    ) -> Option<Value> {
        let asked = message
            .pointer("/params/notifications")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let caps = lock(&self.legacy_state)
            .init
            .get("capabilities")
            .cloned()
            .unwrap_or_default();
        let mut accepted = Map::new();
        for (field, kind) in [
            ("toolsListChanged", "tools"),
            ("promptsListChanged", "prompts"),
            ("resourcesListChanged", "resources"),
        ] {
            // Acknowledged only for what the server says it sends.
            let offered = caps.pointer(&format!("/{kind}/listChanged")) == Some(&Value::Bool(true));
            if asked.get(field) == Some(&Value::Bool(true)) && offered {
                accepted.insert(field.into(), Value::Bool(true));
            }
        }
        let resources: Vec<String> = asked
            .get("resourceSubscriptions")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let mut subscribed = Vec::new();
        if caps.pointer("/resources/subscribe") == Some(&Value::Bool(true)) {
            for uri in &resources {
                if self
                    .resource_subscription(connected, "resources/subscribe", uri)
                    .await
                {
                    subscribed.push(Value::String(uri.clone()));
                }
            }
        }
        if !subscribed.is_empty() {
            accepted.insert(
                "resourceSubscriptions".into(),
                Value::Array(subscribed.clone()),
            );
        }
        self.out.send(&json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
                              "params": {"notifications": accepted, "_meta": {META_SUBSCRIPTION: id}}}));
        lock(&self.legacy_state).listens.insert(
            key(&id),
            Listen {
                id: id.clone(),
                accepted: Value::Object(accepted),
            },
        );
        let cancel = lock(&self.calls)
            .get(&key(&id))
            .map(|c| c.cancel.clone())
            .unwrap_or_default();
        let ended_by_client = tokio::select! {
            _ = cancel.cancelled() => true,
            _ = self.shutdown.cancelled() => false,
        };
        lock(&self.legacy_state).listens.remove(&key(&id));
        for uri in subscribed.iter().filter_map(Value::as_str) {
            self.resource_subscription(connected, "resources/unsubscribe", uri)
                .await;
        }
        (!ended_by_client).then(|| {
            jsonrpc::result(
                id.clone(),
                json!({"resultType": "complete", "_meta": {META_SUBSCRIPTION: id}}),
            )
        })
    }

    pub(super) async fn resource_subscription(
        &self,
        connected: &Connected,
        method: &str,
        uri: &str,
    ) -> bool {
        let Some(s) = connected.upstream.streamable() else {
            return false;
        };
        let request =
            json!({"jsonrpc": "2.0", "id": s.own_id(), "method": method, "params": {"uri": uri}});
        match s.call(&request).await {
            Ok(answer) if answer.get("result").is_some() => true,
            Ok(answer) => {
                self.log(&format!(
                    "{method} {uri} refused: {}",
                    answer.get("error").unwrap_or(&Value::Null)
                ));
                false
            }
            Err(e) => {
                self.log(&format!("{method} {uri}: {}", self.describe(&e)));
                false
            }
        }
    }
}
