//! The 2026-07-28 request headers (SEP-2243, transports/streamable-http
//! "Standard headers" and "Custom headers"): `Mcp-Method`, `Mcp-Name`, and
//! `Mcp-Param-*` mirrored from the `x-mcp-header` annotations of a tool's
//! input schema; the value encoding they share; and the rules that make a
//! tool definition invalid (a conforming HTTP client leaves it out of
//! `tools/list`).

use std::collections::HashSet;

use base64::Engine;
use serde_json::Value;

/// One argument a tool mirrors into a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderParam {
    /// The chain of `properties` keys from the schema root to the argument.
    pub path: Vec<String>,
    /// The header is `Mcp-Param-<name>`.
    pub name: String,
}

/// Keywords whose values hold subschemas: an annotation found under any of
/// them is not reachable through `properties` alone.
const SUBSCHEMA_KEYWORDS: [&str; 20] = [
    "items",
    "prefixItems",
    "contains",
    "additionalItems",
    "unevaluatedItems",
    "additionalProperties",
    "unevaluatedProperties",
    "patternProperties",
    "propertyNames",
    "dependentSchemas",
    "anyOf",
    "allOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "$defs",
    "definitions",
    "dependencies",
];

/// A header value as the encoding rule sends it: plain when it is visible
/// ASCII without surrounding whitespace, else `=?base64?…?=` of its UTF-8
/// (a plain value that looks like the sentinel is encoded too).
pub fn encode_value(value: &str) -> String {
    let unsafe_byte = value.bytes().any(|b| !(0x20..=0x7e).contains(&b));
    let padded = value.starts_with(' ') || value.ends_with(' ');
    let looks_encoded = value.starts_with("=?base64?") && value.ends_with("?=");
    if unsafe_byte || padded || looks_encoded {
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
        )
    } else {
        value.to_string()
    }
}

/// The value an argument is sent as: strings as they are, numbers in decimal,
/// booleans as `true`/`false`; `None` for null or anything else.
fn argument_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `Mcp-Name` for the methods that have one (the tool or prompt name, the resource URI).
pub fn mcp_name(message: &Value) -> Option<String> {
    let params = message.get("params")?;
    let value = match message.get("method")?.as_str()? {
        "tools/call" | "prompts/get" => params.get("name")?,
        "resources/read" => params.get("uri")?,
        _ => return None,
    };
    value.as_str().map(encode_value)
}

/// The `Mcp-Param-*` headers of a `tools/call`, from the tool's annotations.
pub fn param_headers(params: &[HeaderParam], arguments: Option<&Value>) -> Vec<(String, String)> {
    let Some(arguments) = arguments else {
        return Vec::new();
    };
    params
        .iter()
        .filter_map(|p| {
            let mut at = arguments;
            for key in &p.path {
                at = at.get(key)?;
            }
            let text = argument_text(at)?;
            Some((format!("mcp-param-{}", p.name), encode_value(&text)))
        })
        .collect()
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The tool's header parameters, or why its definition is invalid.
pub fn tool_header_params(tool: &Value) -> Result<Vec<HeaderParam>, String> {
    let mut found = Vec::new();
    if let Some(schema) = tool.get("inputSchema") {
        walk_properties(schema, &mut Vec::new(), &mut found)?;
    }
    let mut seen = HashSet::new();
    for p in &found {
        if !seen.insert(p.name.to_ascii_lowercase()) {
            return Err(format!(
                "x-mcp-header \"{}\" is declared twice (names are case-insensitive)",
                p.name
            ));
        }
    }
    Ok(found)
}

/// A schema reached through `properties` keys only: annotations here are allowed.
fn walk_properties(
    schema: &Value,
    path: &mut Vec<String>,
    found: &mut Vec<HeaderParam>,
) -> Result<(), String> {
    let Some(object) = schema.as_object() else {
        return Ok(());
    };
    if let Some(annotation) = object.get("x-mcp-header") {
        if path.is_empty() {
            return Err("x-mcp-header on the schema root".into());
        }
        let name = annotation
            .as_str()
            .ok_or_else(|| format!("x-mcp-header of \"{}\" is not a string", path.join(".")))?;
        if !is_token(name) {
            return Err(format!(
                "x-mcp-header \"{name}\" is not a valid header name (an RFC 9110 token)"
            ));
        }
        match object.get("type").and_then(Value::as_str) {
            Some("string" | "integer" | "boolean") => {}
            other => {
                return Err(format!(
                    "x-mcp-header \"{name}\" is on a property of type {}: only string, integer and boolean can be mirrored",
                    other.map_or("(none or several)".to_string(), |t| t.to_string())
                ))
            }
        }
        found.push(HeaderParam {
            path: path.clone(),
            name: name.to_string(),
        });
    }
    for (keyword, value) in object {
        if keyword == "properties" {
            if let Some(properties) = value.as_object() {
                for (name, sub) in properties {
                    path.push(name.clone());
                    walk_properties(sub, path, found)?;
                    path.pop();
                }
            }
        } else if SUBSCHEMA_KEYWORDS.contains(&keyword.as_str()) {
            refuse_annotations(value, keyword)?;
        }
    }
    Ok(())
}

/// Anywhere else an annotation makes the tool invalid.
fn refuse_annotations(value: &Value, under: &str) -> Result<(), String> {
    match value {
        Value::Object(object) => {
            if object.contains_key("x-mcp-header") {
                return Err(format!(
                    "x-mcp-header under \"{under}\" is not reachable through properties alone"
                ));
            }
            object
                .values()
                .try_for_each(|v| refuse_annotations(v, under))
        }
        Value::Array(items) => items.iter().try_for_each(|v| refuse_annotations(v, under)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_plain_or_base64_as_the_spec_examples_show() {
        assert_eq!(encode_value("us-west1"), "us-west1");
        assert_eq!(encode_value("us west 1"), "us west 1");
        assert_eq!(encode_value(""), "");
        assert_eq!(
            encode_value("Hello, 世界"),
            "=?base64?SGVsbG8sIOS4lueVjA==?="
        );
        assert_eq!(encode_value(" padded "), "=?base64?IHBhZGRlZCA=?=");
        assert_eq!(encode_value("line1\nline2"), "=?base64?bGluZTEKbGluZTI=?=");
        assert_eq!(encode_value("a\tb"), "=?base64?YQli?=");
        assert_eq!(
            encode_value("=?base64?literal?="),
            "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="
        );
    }

    #[test]
    fn names_come_from_name_or_uri() {
        let call = json!({"method":"tools/call","params":{"name":"get_weather"}});
        assert_eq!(mcp_name(&call).as_deref(), Some("get_weather"));
        let read = json!({"method":"resources/read","params":{"uri":"file:///a b.txt"}});
        assert_eq!(mcp_name(&read).as_deref(), Some("file:///a b.txt"));
        let list = json!({"method":"tools/list","params":{}});
        assert_eq!(mcp_name(&list), None);
    }

    #[test]
    fn annotated_arguments_become_headers_and_null_is_left_out() {
        let tool = json!({"name":"t","inputSchema":{"type":"object","properties":{
            "region":{"type":"string","x-mcp-header":"Region"},
            "priority":{"type":"integer","x-mcp-header":"Priority"},
            "verbose":{"type":"boolean","x-mcp-header":"Verbose"},
            "method":{"type":"string","x-mcp-header":"Method"},
            "nested":{"type":"object","properties":{"zone":{"type":"string","x-mcp-header":"Zone"}}},
            "query":{"type":"string"}}}});
        let params = tool_header_params(&tool).expect("valid");
        let headers = param_headers(
            &params,
            Some(
                &json!({"region":"us-east1","priority":1,"verbose":null,"method":"é",
                          "nested":{"zone":"b"},"query":"SELECT 1"}),
            ),
        );
        let mut headers: Vec<_> = headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        headers.sort();
        assert_eq!(
            headers,
            [
                "mcp-param-Method: =?base64?w6k=?=",
                "mcp-param-Priority: 1",
                "mcp-param-Region: us-east1",
                "mcp-param-Zone: b"
            ]
        );
    }

    #[test]
    fn invalid_annotations_make_the_tool_invalid() {
        let bad = |properties: Value| {
            tool_header_params(&json!({"inputSchema":{"type":"object","properties":properties}}))
        };
        for (why, properties) in [
            ("empty", json!({"a":{"type":"string","x-mcp-header":""}})),
            (
                "space",
                json!({"a":{"type":"string","x-mcp-header":"My Region"}}),
            ),
            (
                "colon",
                json!({"a":{"type":"string","x-mcp-header":"Region:Primary"}}),
            ),
            (
                "non-ascii",
                json!({"a":{"type":"string","x-mcp-header":"Région"}}),
            ),
            (
                "control",
                json!({"a":{"type":"string","x-mcp-header":"Region\t1"}}),
            ),
            ("object", json!({"a":{"type":"object","x-mcp-header":"A"}})),
            ("array", json!({"a":{"type":"array","x-mcp-header":"A"}})),
            ("number", json!({"a":{"type":"number","x-mcp-header":"A"}})),
            ("null", json!({"a":{"type":"null","x-mcp-header":"A"}})),
            ("no type", json!({"a":{"x-mcp-header":"A"}})),
            (
                "dup",
                json!({"a":{"type":"string","x-mcp-header":"Region"},"b":{"type":"string","x-mcp-header":"REGION"}}),
            ),
            (
                "items",
                json!({"a":{"type":"array","items":{"type":"string","x-mcp-header":"A"}}}),
            ),
            (
                "anyOf",
                json!({"a":{"anyOf":[{"type":"string","x-mcp-header":"A"}]}}),
            ),
        ] {
            assert!(bad(properties).is_err(), "{why}");
        }
        let defs = json!({"inputSchema":{"type":"object","$defs":{"x":{"type":"string","x-mcp-header":"X"}}}});
        assert!(tool_header_params(&defs).is_err());
        // A property merely named x-mcp-header is not an annotation.
        assert_eq!(
            bad(json!({"x-mcp-header":{"type":"string"}})),
            Ok(Vec::new())
        );
        assert_eq!(tool_header_params(&json!({"name":"plain"})), Ok(Vec::new()));
    }
}
