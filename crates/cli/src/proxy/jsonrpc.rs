//! JSON-RPC 2.0 messages as the proxy sees them: raw JSON values, classified
//! by shape, never parsed into one revision's types (so unknown methods and
//! fields pass through untouched).

use serde_json::{json, Map, Value};

/// The `_meta` keys of the 2026-07-28 revision (SEP-2575).
pub const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
pub const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
pub const META_SUBSCRIPTION: &str = "io.modelcontextprotocol/subscriptionId";

/// The modern revision this proxy translates to and from.
pub const MODERN: &str = "2026-07-28";
/// The newest revision with the `initialize` handshake.
pub const LATEST_LEGACY: &str = "2025-11-25";
/// The handshake revisions the proxy offers a client it answers itself.
pub const LEGACY_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// Error codes the proxy itself uses.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// An error of the proxy or of the way to the server (implementation-defined range).
pub const PROXY_ERROR: i64 = -32001;
/// 2026-07-28 codes (basic/index, "Error codes").
pub const HEADER_MISMATCH: i64 = -32020;
pub const MISSING_CAPABILITY: i64 = -32021;
pub const UNSUPPORTED_VERSION: i64 = -32022;

/// What a message is, by its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Notification,
    Response,
    Invalid,
}

pub fn kind(message: &Value) -> Kind {
    let Some(object) = message.as_object() else {
        return Kind::Invalid;
    };
    match (
        object.get("method").and_then(Value::as_str),
        object.get("id"),
    ) {
        (Some(_), Some(id)) if !id.is_null() => Kind::Request,
        (Some(_), None) => Kind::Notification,
        (None, Some(_)) if object.contains_key("result") || object.contains_key("error") => {
            Kind::Response
        }
        _ => Kind::Invalid,
    }
}

/// An id as a map key: its JSON text, so that `1` and `"1"` stay apart.
pub fn key(id: &Value) -> String {
    id.to_string()
}

pub fn method(message: &Value) -> Option<&str> {
    message.get("method").and_then(Value::as_str)
}

pub fn id(message: &Value) -> Option<&Value> {
    message.get("id")
}

/// The request's protocol version in its `_meta`, when it speaks 2026-07-28 or later.
pub fn meta_version(message: &Value) -> Option<&str> {
    message
        .get("params")
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(META_VERSION))
        .and_then(Value::as_str)
}

pub fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

pub fn error_with_data(id: Value, code: i64, message: impl Into<String>, data: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into(), "data": data}})
}

pub fn result(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// The params object of a message, created when absent.
pub fn params_mut(message: &mut Value) -> Option<&mut Map<String, Value>> {
    let object = message.as_object_mut()?;
    let params = object
        .entry("params")
        .or_insert_with(|| Value::Object(Map::new()));
    if params.is_null() {
        *params = Value::Object(Map::new());
    }
    params.as_object_mut()
}

/// The `_meta` object of a params object, created when absent.
pub fn meta_mut(params: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    let meta = params
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    meta.as_object_mut()
}

/// Removes `_meta` keys, and `_meta` itself when nothing is left in it.
pub fn strip_meta(container: &mut Map<String, Value>, keys: &[&str]) {
    let empty = match container.get_mut("_meta").and_then(Value::as_object_mut) {
        Some(meta) => {
            for key in keys {
                meta.remove(*key);
            }
            meta.is_empty()
        }
        None => false,
    };
    if empty {
        container.remove("_meta");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_shape() {
        assert_eq!(
            kind(&json!({"jsonrpc":"2.0","id":1,"method":"x"})),
            Kind::Request
        );
        assert_eq!(
            kind(&json!({"jsonrpc":"2.0","method":"x"})),
            Kind::Notification
        );
        assert_eq!(
            kind(&json!({"jsonrpc":"2.0","id":1,"result":{}})),
            Kind::Response
        );
        assert_eq!(
            kind(&json!({"jsonrpc":"2.0","id":null,"error":{}})),
            Kind::Response
        );
        assert_eq!(
            kind(&json!({"jsonrpc":"2.0","id":null,"method":"x"})),
            Kind::Invalid
        );
        assert_eq!(kind(&json!([1])), Kind::Invalid);
        assert_eq!(kind(&json!({"id": 1})), Kind::Invalid);
    }

    #[test]
    fn strips_meta_keys_and_an_empty_meta() {
        let mut params = json!({"_meta": {"a": 1, "b": 2}, "x": 1});
        let map = params.as_object_mut().expect("object");
        strip_meta(map, &["a"]);
        assert_eq!(params, json!({"_meta": {"b": 2}, "x": 1}));
        let map = params.as_object_mut().expect("object");
        strip_meta(map, &["b"]);
        assert_eq!(params, json!({"x": 1}));
    }
}
