//! `mcpauth`: the command-line face of MCP Auth.
//!
//! So far it offers `discover`, which runs the engine's discovery against an
//! MCP server and prints what it found; the credential helper, sign-in, proxy
//! and export commands come with the vault (issues 3 and 4).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mcpauth_core::discovery::{discover, DiscoverOptions};
use mcpauth_core::http::ReqwestHttp;
use mcpauth_core::scopes::select_scopes;

#[derive(Parser)]
#[command(name = "mcpauth", version, about = "Sign in to MCP servers with OAuth")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Find an MCP server's authorization server and print what sign-in would use.
    Discover {
        /// The MCP server URL.
        url: String,
        /// Pick this authorization server when the server lists several.
        #[arg(long)]
        authorization_server: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mcpauth: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Discover {
            url,
            authorization_server,
            json,
        } => {
            let http = ReqwestHttp::new().map_err(|e| e.to_string())?;
            let options = DiscoverOptions {
                authorization_server,
            };
            let found = discover(&http, &url, &options)
                .await
                .map_err(|e| e.to_string())?;
            let scopes = select_scopes(
                found.challenge.as_ref(),
                found.resource_metadata.as_ref(),
                &found.metadata,
            );
            if json {
                let mut value = serde_json::to_value(&found).map_err(|e| e.to_string())?;
                value["selected_scopes"] = scopes.map(|s| s.to_string()).into();
                println!("{value:#}");
            } else {
                println!("MCP server:            {}", found.mcp_url);
                println!("resource:              {}", found.resource);
                if let Some(prm) = &found.resource_metadata_url {
                    println!("resource metadata:     {prm}");
                } else {
                    println!("resource metadata:     none (2025-03-26 server)");
                }
                println!("authorization server:  {}", found.issuer);
                println!(
                    "server metadata:       {}",
                    found
                        .metadata_url
                        .as_deref()
                        .unwrap_or("none (default endpoints assumed)")
                );
                println!(
                    "scopes to request:     {}",
                    scopes
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "(none)".into())
                );
                println!(
                    "registration:          {}",
                    if found.metadata.client_id_metadata_document_supported {
                        "client ID metadata document"
                    } else if found.metadata.registration_endpoint.is_some() {
                        "dynamic client registration"
                    } else {
                        "pre-registered client needed"
                    }
                );
            }
            Ok(())
        }
    }
}
