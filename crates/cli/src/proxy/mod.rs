//! `mcpauth proxy`: a stdio MCP server that bridges one stdio client to one
//! remote MCP server, whatever revision either speaks (2024-11-05 HTTP+SSE
//! to 2026-07-28), signing in when the server first asks.
//!
//! Built on our own transport rather than the Rust SDK's (`rmcp`): its client
//! parses every message into one revision's types (unknown fields of known
//! messages are lost), its transport dies on a 401 to the first message and
//! keeps its token fixed, and it has no HTTP+SSE client any more. A proxy
//! must pass messages through untouched, sign in and re-send the same
//! message, and reach servers of every era. The transport follows the
//! behaviour rmcp implements (re-initialization on 404, `Last-Event-ID` with
//! `retry:`, SEP-2243 headers) and is tested against rmcp's own server.
//!
//! Layers: `stdio` (lines in, one writer out), `bridge` (client requests,
//! ids, eras, the connection), `client` (the client's notifications and
//! answers), `pass` (same era both sides), `to_modern`/`to_legacy`/`listen`
//! (translation), `upstream` (era and transport discovery, routing),
//! `streamable`/`legacy_sse` (transports), `wire` (HTTP with the auth layer,
//! bounds, timeouts), `auth` (lazy sign-in, refresh, step-up), `headers`
//! (SEP-2243), `sse` (event streams), `scrub`.

mod auth;
mod bridge;
mod client;
mod headers;
mod jsonrpc;
mod legacy_sse;
mod listen;
mod pass;
mod scrub;
mod sse;
mod stdio;
mod streamable;
mod to_legacy;
mod to_modern;
mod upstream;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use mcpauth_core::scopes::Scopes;
use mcpauth_vault::{AssertionSource, Error as VaultError, IdpLink, Vault};
use serde_json::Value;

use crate::cli::{Grant, ProxyArgs};
use crate::login::{check_assertion_flags, client_choice, machine_account, workload_client};
use crate::output::open_vault;
use crate::{exit, Failure};

use auth::{Auth, SignInWith};
use bridge::Bridge;
use scrub::Scrubber;
use stdio::Line;
use wire::{Limits, Wire};

/// A std mutex, whether or not a holder panicked (its data stay consistent:
/// no lock here is held across a step that can fail half-way).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Which account to start with (`None`: sign in when the server asks), and where.
fn resolve(vault: &Vault, args: &ProxyArgs) -> Result<(url::Url, Option<String>), Failure> {
    if !args.target.contains("://") {
        let account = vault.account(&args.target)?;
        let url = mcpauth_core::http::parse_secure("MCP server URL", &account.server_url)?;
        return Ok((url, Some(account.id)));
    }
    let url = mcpauth_core::http::parse_secure("MCP server URL", &args.target)?;
    let client_id = args.client.client_id.as_ref();
    let account = match (args.client.idp.as_deref(), args.grant) {
        // A machine account of this server with this client, made by an earlier
        // run; with --idp, one that gets its ID-JAGs from that identity provider.
        (Some(issuer), _) => crate::idp::account_of(vault, &args.target, issuer, client_id)?,
        (None, grant @ (Grant::ClientCredentials | Grant::JwtBearer)) => {
            machine_account(vault, &url, client_id, |source| match source {
                Some(AssertionSource::IdJag(_)) => false,
                Some(_) => grant == Grant::JwtBearer,
                None => grant == Grant::ClientCredentials,
            })?
        }
        (None, Grant::AuthorizationCode) => match vault.account(&args.target) {
            Ok(a) => Some(a.id),
            Err(VaultError::UnknownAccount { .. }) => None,
            Err(e) => return Err(e.into()),
        },
    };
    Ok((url, account))
}

/// How to sign in when the server asks; `idp` is the identity provider
/// `--idp` names.
fn sign_in_with(args: &ProxyArgs, idp: Option<IdpLink>) -> Result<SignInWith, Failure> {
    check_assertion_flags(args.grant, &args.client)?;
    let client = client_choice(&args.client)?;
    if let Some(link) = idp {
        if args.grant == Grant::ClientCredentials {
            return Err(Failure::new(
                exit::FAILURE,
                "--idp gets tokens with ID-JAGs from your identity provider; it does not go with --grant client-credentials",
            ));
        }
        // The sign-in at the identity provider waits for the server to ask;
        // the client secret is kept (run) before anything is asked.
        return Ok(SignInWith::Machine {
            client_id: client.client_id.expect("idp_link checks --client-id"),
            credential: client.credential,
            assertion: Some(AssertionSource::IdJag(link)),
        });
    }
    match args.grant {
        Grant::AuthorizationCode => Ok(SignInWith::Browser(client)),
        Grant::JwtBearer => {
            let (client_id, assertion) = workload_client(&args.client, client.client_id)?;
            Ok(SignInWith::Machine {
                client_id,
                credential: client.credential,
                assertion: Some(assertion),
            })
        }
        Grant::ClientCredentials => match (client.client_id, client.credential) {
            (Some(client_id), Some(credential)) => Ok(SignInWith::Machine {
                client_id,
                credential: Some(credential),
                assertion: None,
            }),
            _ => Err(Failure::new(
                exit::FAILURE,
                "--grant client-credentials needs --client-id and a --client-secret(-file) or --private-key",
            )),
        },
    }
}

pub async fn run(args: ProxyArgs) -> Result<(), Failure> {
    let vault = open_vault()?;
    let (url, account) = resolve(&vault, &args)?;
    let idp = crate::idp::idp_link(&args.client)?;
    if let Some((link, Some(secret))) = &idp {
        vault.keep_idp_client_secret(link, Some(secret)).await?;
    }
    let how = sign_in_with(&args, idp.map(|(link, _)| link))?;
    let scopes = (!args.scopes.is_empty()).then(|| Scopes::parse(&args.scopes.join(" ")));
    let scrubber = Scrubber::default();
    let auth = Arc::new(Auth::new(
        vault,
        url.to_string(),
        account.clone(),
        how,
        scopes,
        args.client.authorization_server.clone(),
        scrubber.clone(),
    ));
    let limits = Limits {
        idle: Duration::from_secs(args.timeout),
        ..Limits::default()
    };
    let wire = Wire::new(auth, scrubber.clone(), limits.clone())
        .map_err(|e| Failure::new(exit::FAILURE, e))?;
    let (out, writer) = stdio::writer(tokio::io::stdout(), scrubber);
    let bridge = Bridge::new(out, wire, url.clone());
    match &account {
        Some(id) => eprintln!("mcpauth proxy: forwarding to {url} as account {id}"),
        None => eprintln!(
            "mcpauth proxy: forwarding to {url}; no account yet (signing in when the server asks)"
        ),
    }

    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let mut tasks = tokio::task::JoinSet::new();
    let stop = stop_signal();
    tokio::pin!(stop);
    let mut stopped_by_signal = false;
    loop {
        tokio::select! {
            line = stdio::read_line(&mut stdin, limits.message) => match line {
                Ok(Some(Line::Text(text))) => {
                    if text.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Value>(&text) {
                        Ok(message) => bridge.handle(message, &mut tasks).await,
                        Err(e) => bridge.out.send(&jsonrpc::error(
                            Value::Null,
                            jsonrpc::PARSE_ERROR,
                            format!("not JSON: {e}"),
                        )),
                    }
                }
                Ok(Some(Line::TooLong)) => bridge.out.send(&jsonrpc::error(
                    Value::Null,
                    jsonrpc::INVALID_REQUEST,
                    format!("a message longer than {} MiB; dropped", limits.message / (1024 * 1024)),
                )),
                Ok(Some(Line::NotText)) => bridge.out.send(&jsonrpc::error(
                    Value::Null,
                    jsonrpc::PARSE_ERROR,
                    "a line that is not UTF-8; dropped",
                )),
                Ok(None) => break,
                Err(e) => {
                    eprintln!("mcpauth proxy: cannot read stdin: {e}");
                    break;
                }
            },
            Some(_) = tasks.join_next() => {}
            _ = &mut stop => { stopped_by_signal = true; break; }
        }
        if bridge.out.is_closed() {
            break; // nobody reads our answers any more
        }
    }
    if stopped_by_signal {
        tasks.abort_all();
    }
    bridge.finish(tasks).await;
    drop(bridge);
    let _ = writer.await;
    Ok(())
}

/// SIGTERM (how clients stop a stdio server that does not exit) or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
