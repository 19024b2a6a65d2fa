//! `mcpauth-test-rmcp`: an MCP server on the official Rust SDK (rmcp 3.11),
//! protocol 2026-07-28 only, stateless Streamable HTTP, for the proxy tests.
//! tests/servers/start.mjs spawns it (see /work/notes/test-servers-contract.md):
//!
//! ```text
//! mcpauth-test-rmcp --issuer <url> --verify-url <url> [--port N]
//! ```
//!
//! prints one JSON line `{"url":"http://127.0.0.1:P/mcp","prm":"…"}` on stdout
//! once listening (logs go to stderr), and exits on stdin EOF, so it dies with
//! the process that started it, or on SIGTERM.

mod auth;
mod server;
mod tools;

use std::{io::Write, sync::Arc, time::Duration};

use axum::{routing::get, Router};
use clap::Parser;
use rmcp::transport::streamable_http_server::{
    session::never::NeverSessionManager, StreamableHttpServerConfig, StreamableHttpService,
};
use tokio::io::AsyncReadExt;

use crate::{auth::Auth, server::TestServer};

#[derive(Parser)]
#[command(about = "MCP test server on rmcp (2026-07-28 only)")]
struct Args {
    /// Authorization server named in the protected resource metadata.
    #[arg(long)]
    issuer: String,
    /// `POST {"token","audience"}` here decides whether a bearer token is valid.
    #[arg(long)]
    verify_url: String,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("mcpauth_test_rmcp=info,rmcp=warn")
            }),
        )
        .init();
    if let Err(e) = run(Args::parse()).await {
        tracing::error!("{e}");
        std::process::exit(1);
    }
    // The stdin reader may still be parked in a blocking read (SIGTERM case),
    // and the runtime would wait for it on drop.
    std::process::exit(0);
}

async fn run(args: Args) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let port = listener.local_addr()?.port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let prm = format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp");
    let auth = Arc::new(Auth::new(
        url.clone(),
        prm.clone(),
        args.issuer,
        args.verify_url,
    ));

    let config = StreamableHttpServerConfig::default()
        // 2026-07-28 is always stateless; this makes every other request
        // stateless too, which is what makes the strict metadata check apply.
        .with_legacy_session_mode(false)
        // Requests without MCP-Protocol-Version / _meta protocolVersion are
        // refused instead of being read as 2025-03-26.
        .with_stateless_protocol_metadata_required(true)
        // Plain JSON for a bare result; rmcp still switches to SSE when the
        // handler sends anything first (progress, listen).
        .with_json_response(true);
    let shutdown = config.cancellation_token.clone();
    let shared = server::Shared::new();
    let mcp = StreamableHttpService::new(
        move || Ok(TestServer::new(shared.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );

    let app = Router::new()
        .route_service("/mcp", mcp)
        .route_layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            auth::require_token,
        ))
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(auth::protected_resource_metadata),
        )
        .with_state(auth);

    // Built by hand so that `url` comes first (serde_json sorts object keys).
    let line = format!(
        "{{\"url\":{},\"prm\":{}}}",
        serde_json::Value::from(url.as_str()),
        serde_json::Value::from(prm.as_str())
    );
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    tracing::info!("listening on {url}");

    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            let why = wait_for_exit().await;
            // First the shutdown, then the log line: with our parent gone, the
            // write to stderr fails, and tracing-subscriber reports that with
            // `eprintln!`, which panics and would end this task before it.
            shutdown.cancel();
            tracing::info!("{why}, exiting");
        }
    });

    let server =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    tokio::select! {
        result = server => result,
        // Graceful shutdown waits for open connections (a `slow` call, an
        // idle keep-alive); a test server need not wait long for them.
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        } => Ok(()),
    }
}

/// Stdin EOF (the parent is gone or closed our stdin), or SIGTERM / Ctrl-C;
/// which one, in words.
async fn wait_for_exit() -> &'static str {
    let stdin_closed = async {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    #[cfg(unix)]
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminated = std::future::pending::<()>();
    tokio::select! {
        () = stdin_closed => "stdin closed",
        () = terminated => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
    }
}
