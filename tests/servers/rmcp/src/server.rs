//! The MCP handler: capabilities, versions, `subscriptions/listen`, the
//! resources and the prompt (the tools are in tools.rs).
//!
//! rmcp serves 2026-07-28 statelessly and calls the service factory once per
//! HTTP request, so a `TestServer` lives for one request only. Everything that
//! must outlive it (the abort counter, the tools/list_changed bus, the tool
//! router) sits in the shared `Shared`.

use std::{
    borrow::Cow,
    sync::{atomic::AtomicU64, Arc},
};

use rmcp::{
    handler::server::router::tool::ToolRouter,
    model::*,
    service::{RequestContext, RoleServer, SubscriptionContext, SubscriptionSendError},
    tool_handler, ErrorData, ServerHandler,
};
use serde_json::Value;
use tokio::sync::broadcast;

/// State shared by the per-request handler instances.
pub struct Shared {
    /// How many `slow` calls were cancelled since start (`cancelled` tool).
    pub(crate) aborted: AtomicU64,
    /// `notify_later` publishes here; every open `subscriptions/listen`
    /// stream forwards it as notifications/tools/list_changed.
    pub(crate) tools_changed: broadcast::Sender<()>,
    /// Built once: the macro-generated router is the same for every request.
    router: ToolRouter<TestServer>,
}

impl Shared {
    pub fn new() -> Arc<Self> {
        let (tools_changed, _) = broadcast::channel(16);
        Arc::new(Self {
            aborted: AtomicU64::new(0),
            tools_changed,
            router: TestServer::tool_router(),
        })
    }
}

#[derive(Clone)]
pub struct TestServer {
    pub(crate) shared: Arc<Shared>,
}

impl TestServer {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[tool_handler(router = self.shared.router)]
impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_prompts()
            .enable_resources()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        let mut info = ServerConfig::new(capabilities).with_server_info(Implementation::new(
            "mcpauth-test-rmcp",
            env!("CARGO_PKG_VERSION"),
        ));
        info.protocol_version = ProtocolVersion::V_2026_07_28;
        info
    }

    /// Modern only: `server/discover` lists just 2026-07-28 and rmcp refuses
    /// the rest.
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(&[ProtocolVersion::V_2026_07_28])
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.supported_by(&self.get_info().capabilities))
    }

    /// One `subscriptions/listen` stream: rmcp has sent the acknowledgment;
    /// forward the bus until the client closes the stream.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = self.shared.tools_changed.subscribe();
        loop {
            tokio::select! {
                _ = context.cancelled() => return Ok(()),
                change = changes.recv() => match change {
                    Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        match context.sink().notify_tool_list_changed().await {
                            // This stream did not ask for tools: skip.
                            Ok(()) | Err(SubscriptionSendError::NotificationNotAccepted(_)) => {}
                            Err(e) => {
                                tracing::info!("listen stream ended: {e}");
                                return Ok(());
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let greeting = Resource::new("test://greeting", "greeting").with_mime_type("text/plain");
        Ok(ListResourcesResult::with_all_items(vec![greeting]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let item = ResourceTemplate::new("test://items/{id}", "item");
        Ok(ListResourceTemplatesResult::with_all_items(vec![item]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let body = if uri == "test://greeting" {
            "hello resource".to_owned()
        } else if let Some(id) = uri
            .strip_prefix("test://items/")
            .filter(|id| !id.is_empty() && !id.contains('/'))
        {
            format!("item {id}")
        } else {
            return Err(ErrorData::resource_not_found(
                format!("no resource {uri}"),
                None,
            ));
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(body, uri)]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let greet = Prompt::new(
            "greet",
            Some("Greets someone"),
            Some(vec![PromptArgument::new("name").with_required(true)]),
        );
        Ok(ListPromptsResult::with_all_items(vec![greet]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != "greet" {
            return Err(ErrorData::invalid_params(
                format!("no prompt {}", request.name),
                None,
            ));
        }
        let name = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| ErrorData::invalid_params("argument `name` required", None))?;
        let message = PromptMessage::new_text(Role::User, format!("Hello {name}"));
        Ok(GetPromptResult::new(vec![message]).into())
    }
}
