//! The contract's tools (tests/servers/tools.mjs holds the Node servers'
//! copy of the same values). Each call runs on a fresh `TestServer`; what
//! outlives a request is in `Shared`.

use std::{sync::atomic::Ordering, time::Duration};

use axum::http::request::Parts;
use rmcp::{
    handler::server::{
        tool::{Extension, InputResponses, RequestState},
        wrapper::Parameters,
    },
    model::*,
    service::{RequestContext, RoleServer},
    tool, tool_router, ErrorData,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{auth::AuthInfo, server::TestServer};

fn text(t: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(t)])
}

/// `"héllo wörld — 你好, мир 🌍"` 2000 times, joined with newlines: long
/// multi-byte text that spans many TCP chunks.
fn unicode_text() -> String {
    vec!["héllo wörld — 你好, мир 🌍"; 2000].join("\n")
}

// requestState values. They only say which round this is; nothing secret or
// trusted travels in them, so they need no sealing.
const ELICIT_STATE: &str = "elicit:await-name";
const SAMPLE_STATE: &str = "sample:await-answer";

#[derive(Deserialize, JsonSchema)]
struct EchoArgs {
    text: String,
}

fn default_steps() -> u64 {
    3
}

#[derive(Deserialize, JsonSchema)]
struct ProgressArgs {
    #[serde(default = "default_steps")]
    steps: u64,
}

fn default_ms() -> u64 {
    30_000
}

#[derive(Deserialize, JsonSchema)]
struct SlowArgs {
    #[serde(default = "default_ms")]
    ms: u64,
}

#[derive(Deserialize, JsonSchema)]
struct RouteArgs {
    // SEP-2243: mirrored into the `Mcp-Param-Region` request header; rmcp
    // refuses the call (HTTP 400, -32020) when that header is missing or
    // differs. (Plain comments: doc comments would land in the schema.)
    #[schemars(extend("x-mcp-header" = "Region"))]
    region: String,
    // Optional, but listed as a plain string rather than string-or-null.
    // (skip_serializing_if keeps schemars from printing `"default": null`.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    q: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct BadHeaderArgs {
    // Invalid on purpose: x-mcp-header may only annotate primitives. rmcp's
    // server does not check annotations (only its client does), so the tool
    // is listed; a conforming client must drop it.
    #[schemars(extend("x-mcp-header" = "Filter"))]
    filter: serde_json::Map<String, Value>,
}

fn bad_state(state: &str) -> ErrorData {
    ErrorData::invalid_params(format!("unexpected requestState {state:?}"), None)
}

// pub(crate): `Shared::new` in server.rs builds the router once.
#[tool_router(vis = "pub(crate)")]
impl TestServer {
    #[tool(description = "Returns its text")]
    async fn echo(&self, Parameters(args): Parameters<EchoArgs>) -> CallToolResult {
        text(args.text)
    }

    #[tool(description = "Subject, scope and client of the access token")]
    async fn whoami(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        // The auth middleware put the verified identity into the HTTP request's
        // extensions; rmcp hands the request parts to the tool.
        let info = parts
            .extensions
            .get::<AuthInfo>()
            .ok_or_else(|| ErrorData::internal_error("no verified token on this request", None))?;
        let body = json!({ "sub": info.sub, "scope": info.scope, "client_id": info.client_id });
        Ok(text(body.to_string()))
    }

    #[tool(description = "Sends `steps` progress notifications 50 ms apart (with a progressToken)")]
    async fn progress(
        &self,
        Parameters(args): Parameters<ProgressArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let token = ctx.meta.get_progress_token();
        for i in 1..=args.steps {
            if let Some(token) = &token {
                let param = ProgressNotificationParam::new(token.clone(), i as f64)
                    .with_total(args.steps as f64);
                ctx.peer.notify_progress(param).await.map_err(|e| {
                    ErrorData::internal_error(format!("progress not sent: {e}"), None)
                })?;
            }
            // Also after the last (the TypeScript SDK's clients drop a last
            // progress read in the same chunk as its result).
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(text(format!("done {}", args.steps)))
    }

    /// On 2026-07-28 a client cancels by closing the request's stream; rmcp
    /// cancels the request's token then.
    #[tool(description = "Waits `ms`; stops when cancelled (counted, see `cancelled`)")]
    async fn slow(
        &self,
        Parameters(args): Parameters<SlowArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(args.ms)) => Ok(text("slow done")),
            _ = ctx.ct.cancelled() => {
                let n = self.shared.aborted.fetch_add(1, Ordering::SeqCst) + 1;
                tracing::info!("slow cancelled ({n} so far)");
                Err(ErrorData::internal_error("cancelled", None))
            }
        }
    }

    #[tool(description = "How many `slow` calls were aborted on this server")]
    async fn cancelled(&self) -> CallToolResult {
        text(json!({ "aborted": self.shared.aborted.load(Ordering::SeqCst) }).to_string())
    }

    /// MRTR: 2026-07-28 has no server-to-client requests. The first call
    /// answers input_required with a requestState; the client re-sends the
    /// tools/call with inputResponses and that requestState.
    #[tool(description = "Asks the user for a name (input_required)")]
    async fn elicit(
        &self,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let answer = responses.as_ref().and_then(|r| r.get("name"));
        match (state.as_deref(), answer) {
            (Some(ELICIT_STATE), Some(answer)) => {
                let action = answer
                    .get("action")
                    .and_then(Value::as_str)
                    .unwrap_or("cancel");
                let out = if action == "accept" {
                    let name = answer
                        .pointer("/content/name")
                        .and_then(Value::as_str)
                        .unwrap_or("undefined");
                    format!("accept:{name}")
                } else {
                    action.to_owned()
                };
                Ok(text(out).into())
            }
            // The answer without the echoed requestState: the client (or a
            // proxy) lost it. Say so instead of asking again forever.
            (None, Some(_)) => Err(ErrorData::invalid_params(
                "inputResponses without requestState",
                None,
            )),
            (Some(other), _) if other != ELICIT_STATE => Err(bad_state(other)),
            _ => {
                let schema = serde_json::from_value(json!({
                    "type": "object",
                    "properties": { "name": { "type": "string" } },
                    "required": ["name"],
                }))
                .map_err(|e| ErrorData::internal_error(format!("elicitation schema: {e}"), None))?;
                let mut requests = InputRequests::new();
                requests.insert(
                    "name".into(),
                    InputRequest::Elicitation(ElicitRequest::new(
                        ElicitRequestParams::FormElicitationParams {
                            meta: None,
                            message: "Your name?".into(),
                            requested_schema: schema,
                        },
                    )),
                );
                Ok(InputRequiredResult::new(Some(requests), Some(ELICIT_STATE.into())).into())
            }
        }
    }

    #[tool(description = "Asks the client's model to say hi (input_required)")]
    async fn sample(
        &self,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let answer = responses.as_ref().and_then(|r| r.get("llm"));
        match (state.as_deref(), answer) {
            (Some(SAMPLE_STATE), Some(answer)) => {
                Ok(text(format!("sampled:{}", sampled_text(answer))).into())
            }
            (None, Some(_)) => Err(ErrorData::invalid_params(
                "inputResponses without requestState",
                None,
            )),
            (Some(other), _) if other != SAMPLE_STATE => Err(bad_state(other)),
            _ => {
                // Sampling is deprecated by SEP-2577 but still an allowed MRTR input request.
                #[allow(deprecated)]
                let request = InputRequest::CreateMessage(CreateMessageRequest::new(
                    CreateMessageRequestParams::new(vec![SamplingMessage::user_text("Say hi")], 20),
                ));
                let mut requests = InputRequests::new();
                requests.insert("llm".into(), request);
                Ok(InputRequiredResult::new(Some(requests), Some(SAMPLE_STATE.into())).into())
            }
        }
    }

    /// Out of any request there is only the listen streams: 100 ms after
    /// answering, every open `subscriptions/listen` stream that asked for
    /// toolsListChanged gets notifications/tools/list_changed.
    #[tool(description = "Publishes tools/list_changed 100 ms later")]
    async fn notify_later(&self) -> CallToolResult {
        let shared = self.shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            // Err = no listener right now: nothing to deliver.
            let listeners = shared.tools_changed.send(()).unwrap_or(0);
            tracing::info!("tools/list_changed published to {listeners} listen stream(s)");
        });
        text("scheduled")
    }

    #[tool(description = "Long non-ASCII text")]
    async fn unicode(&self) -> CallToolResult {
        text(unicode_text())
    }

    #[tool(description = "Answers `routed <region>` (region travels in Mcp-Param-Region)")]
    async fn route(&self, Parameters(args): Parameters<RouteArgs>) -> CallToolResult {
        let _ = args.q;
        text(format!("routed {}", args.region))
    }

    #[tool(
        description = "Declares x-mcp-header on an object property (invalid: must not be listed by clients)"
    )]
    async fn bad_header(&self, Parameters(args): Parameters<BadHeaderArgs>) -> CallToolResult {
        let _ = args.filter;
        text("should not be listed")
    }
}

/// The text of a sampling answer (`CreateMessageResult`), or the content's
/// type when it is not text. 2025-11-25 allows `content` to be an array.
fn sampled_text(result: &Value) -> String {
    let content = result.get("content");
    let block = match content {
        Some(Value::Array(items)) => items.first(),
        other => other,
    };
    match block {
        Some(b) if b.get("type").and_then(Value::as_str) == Some("text") => b
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Some(b) => b
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("undefined")
            .to_owned(),
        None => "undefined".to_owned(),
    }
}
