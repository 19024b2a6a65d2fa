//! The Rust side of the benchmarks in `bench/` (issue 7). Each subcommand
//! prints one JSON line on stdout; the shell scripts run the peers and the
//! floors beside it and write the tables. State comes from the usual
//! environment (MCPAUTH_HOME, MCPAUTH_KEYRING_SERVICE).
//!
//!   bench sign-in <mcp-url> <issuer> <runs>
//!       whole sign-ins (probe, discovery, dynamic registration, authorization
//!       request, the login pages answered by a script, code exchange,
//!       storage), timed one by one, with the requests the servers saw
//!   bench prepare <mcp-url> <count> <concurrency>
//!       sign in <count> accounts (pre-registered public client)
//!   bench storm <expected>
//!       start the app's refresh scheduler on a vault whose accounts are all
//!       due, and time until each has refreshed once; peak resident memory
//!   bench keyring-writes <count> <concurrency>
//!       the keyring alone: <count> token-bundle-sized writes through the
//!       vault's keyring store, <concurrency> at a time, into the keyring the
//!       environment names (so with as many items as the storm's)
//!   bench ceiling <issuer> <concurrency> <rounds>
//!       a plain load generator: the same refresh requests straight at the
//!       token endpoint with the refresh tokens the vault holds, no vault in
//!       the way, `rounds` times (each round spends the previous round's tokens)

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use mcpauth_vault::scheduler::VaultEvent;
use mcpauth_vault::{ClientChoice, SignInRequest, Vault, VaultOptions};
use serde_json::{json, Value};

fn main() -> std::process::ExitCode {
    // The app's runtime: tokio's multi-threaded scheduler, one worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let args: Vec<String> = std::env::args().skip(1).collect();
    match runtime.block_on(run(&args)) {
        Ok(out) => {
            println!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("bench: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<Value, String> {
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["sign-in", mcp, issuer, runs] => sign_in(mcp, issuer, parse(runs)?).await,
        ["prepare", mcp, count, concurrency] => {
            prepare(mcp, parse(count)?, parse(concurrency)?).await
        }
        ["storm", expected] => storm(parse(expected)?).await,
        ["keyring-writes", count, concurrency] => {
            keyring_writes(parse(count)?, parse(concurrency)?).await
        }
        ["ceiling", issuer, concurrency, rounds] => {
            ceiling(issuer, parse(concurrency)?, parse(rounds)?).await
        }
        _ => Err("usage: bench sign-in <mcp-url> <issuer> <runs> | prepare <mcp-url> <count> <concurrency> | storm <expected> | keyring-writes <count> <concurrency> | ceiling <issuer> <concurrency> <rounds>".into()),
    }
}

fn parse(s: &str) -> Result<usize, String> {
    s.parse().map_err(|_| format!("not a number: {s}"))
}

fn open(min_skew: Option<Duration>) -> Result<Vault, String> {
    let mut options = VaultOptions::from_env().map_err(|e| e.to_string())?;
    if let Some(skew) = min_skew {
        options.min_skew = skew;
    }
    Vault::open(options).map_err(|e| e.to_string())
}

/// One browser sign-in as the app does it, the user's pages answered by the test kit.
async fn sign_in_once(
    vault: &Vault,
    mcp: &str,
    user: &str,
    client: ClientChoice,
) -> Result<String, String> {
    let sign_in = vault
        .begin_sign_in(SignInRequest {
            mcp_url: mcp.to_string(),
            client,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let (url, redirect) = (
        sign_in.authorization_url.clone(),
        sign_in.redirect_uri.clone(),
    );
    let browser = async {
        let landing = mcpauth_testkit::drive_login(&url, &redirect, user).await;
        reqwest::get(landing)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let (account, delivered) = tokio::join!(vault.finish_sign_in(sign_in), browser);
    delivered?;
    Ok(account.map_err(|e| e.to_string())?.id)
}

async fn request_log(issuer: &str, reset: bool) -> Result<Value, String> {
    let url = format!(
        "{issuer}/__test/requests{}",
        if reset { "?reset=1" } else { "" }
    );
    let body = reqwest::get(url).await.map_err(|e| e.to_string())?;
    body.json().await.map_err(|e| e.to_string())
}

async fn sign_in(mcp: &str, issuer: &str, runs: usize) -> Result<Value, String> {
    let vault = open(None)?;
    // Dynamic registration, as the SDK does on a fresh client (no client id given).
    sign_in_once(&vault, mcp, "bench-warm-up", ClientChoice::default()).await?;
    let (mut runs_ms, mut requests, mut last_log) = (vec![], vec![], Value::Null);
    for run in 0..runs {
        request_log(issuer, true).await?;
        let started = Instant::now();
        sign_in_once(
            &vault,
            mcp,
            &format!("bench-rust-{run}"),
            ClientChoice::default(),
        )
        .await?;
        runs_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        last_log = request_log(issuer, false).await?;
        requests.push(last_log["count"].clone());
    }
    Ok(json!({ "runs_ms": runs_ms, "requests": requests, "request_log": last_log["requests"] }))
}

async fn prepare(mcp: &str, count: usize, concurrency: usize) -> Result<Value, String> {
    let vault = Arc::new(open(None)?);
    let started = Instant::now();
    let results: Vec<Result<String, String>> = stream::iter(0..count)
        .map(|i| {
            let vault = vault.clone();
            async move {
                let client = ClientChoice {
                    client_id: Some("mcpauth-public".into()),
                    ..Default::default()
                };
                sign_in_once(&vault, mcp, &format!("storm-{i}"), client).await
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if let Some(first) = failed.first() {
        return Err(format!(
            "{} of {count} sign-ins failed; first: {first}",
            failed.len()
        ));
    }
    Ok(json!({ "accounts": count, "seconds": started.elapsed().as_secs_f64() }))
}

/// Peak and current resident memory of this process, in MB.
fn memory_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

async fn storm(expected: usize) -> Result<Value, String> {
    // A refresh margin longer than any token's life makes every account due at
    // once: the 1,000 tokens expiring together.
    let vault = Arc::new(open(Some(Duration::from_secs(10 * 24 * 3600)))?);
    let before = vault.list().map_err(|e| e.to_string())?;
    if before.len() != expected {
        return Err(format!(
            "the vault holds {} accounts, not {expected}",
            before.len()
        ));
    }
    let generations: std::collections::HashMap<String, i64> = before
        .iter()
        .map(|a| (a.id.clone(), a.generation))
        .collect();
    let started = Instant::now();
    let (task, mut events) = mcpauth_vault::scheduler::spawn(vault.clone());
    let (mut refreshed, mut failed) = (HashSet::new(), Vec::new());
    while refreshed.len() + failed.len() < expected {
        match tokio::time::timeout(Duration::from_secs(120), events.recv()).await {
            Err(_) => return Err("no scheduler event for 120 s".into()),
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                // Events were dropped; the database says who refreshed.
                for a in vault.list().map_err(|e| e.to_string())? {
                    if a.generation > generations[&a.id] {
                        refreshed.insert(a.id);
                    }
                }
            }
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(VaultEvent::Refreshed { account })) => {
                refreshed.insert(account);
            }
            Ok(Ok(VaultEvent::NeedsSignIn { account, reason })) => {
                failed.push(format!("{account}: needs sign-in: {reason}"))
            }
            Ok(Ok(VaultEvent::Failed { account, message })) => {
                failed.push(format!("{account}: {message}"))
            }
            Ok(Ok(VaultEvent::Changed)) => {}
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    task.abort();
    // Every account must really hold a new generation (the events are not the proof).
    let after = vault.list().map_err(|e| e.to_string())?;
    let not_refreshed = after
        .iter()
        .filter(|a| a.generation <= generations[&a.id])
        .count();
    let (peak, now) = memory_mb();
    Ok(json!({
        "accounts": expected,
        "concurrency": mcpauth_vault::scheduler::REFRESH_CONCURRENCY,
        "seconds": seconds,
        "per_second": expected as f64 / seconds,
        "failed": failed.len(),
        "first_failure": failed.first(),
        "not_refreshed": not_refreshed,
        "peak_rss_mb": peak,
        "rss_mb": now,
    }))
}

async fn keyring_writes(count: usize, concurrency: usize) -> Result<Value, String> {
    use mcpauth_vault::secrets::{KeyringStore, SecretStore};
    let options = VaultOptions::from_env().map_err(|e| e.to_string())?;
    let store = Arc::new(KeyringStore::new(
        options.keyring_service.clone(),
        options.keyring_timeout,
    ));
    // About the size of a stored bundle (access, refresh and ID token as JSON).
    let value = "x".repeat(1800);
    let write = |i: usize| {
        let (store, value) = (store.clone(), value.clone());
        async move {
            tokio::task::spawn_blocking(move || store.set(&format!("bench-write-{i}"), &value))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        }
    };
    let started = Instant::now();
    let results: Vec<Result<(), String>> = stream::iter(0..count)
        .map(write)
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    for i in 0..count {
        let _ = store.delete(&format!("bench-write-{i}"));
    }
    let failed = results.iter().filter(|r| r.is_err()).count();
    Ok(
        json!({ "writes": count, "concurrency": concurrency, "seconds": seconds, "per_second": count as f64 / seconds, "failed": failed }),
    )
}

async fn ceiling(issuer: &str, concurrency: usize, rounds: usize) -> Result<Value, String> {
    let vault = open(None)?;
    let accounts = vault.list().map_err(|e| e.to_string())?;
    let mut tokens = Vec::with_capacity(accounts.len());
    for a in &accounts {
        let bundle = vault
            .token_bundle(&a.id)
            .map_err(|e| e.to_string())?
            .ok_or("an account without tokens")?;
        let refresh = bundle.refresh_token.clone().ok_or("no refresh token")?;
        tokens.push((a.client_id.clone(), a.resource.clone(), refresh));
    }
    drop(vault);
    let http = reqwest::Client::new();
    let metadata: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let endpoint = metadata["token_endpoint"]
        .as_str()
        .ok_or("no token endpoint")?
        .to_string();
    let mut per_second = vec![];
    let mut failed = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let results: Vec<Result<(String, String, String), String>> = stream::iter(tokens)
            .map(|(client_id, resource, refresh)| {
                let (http, endpoint) = (http.clone(), endpoint.clone());
                async move {
                    let form = [
                        ("grant_type", "refresh_token"),
                        ("refresh_token", refresh.as_str()),
                        ("resource", resource.as_str()),
                        ("client_id", client_id.as_str()),
                    ];
                    let response = http
                        .post(&endpoint)
                        .form(&form)
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let status = response.status();
                    let body: Value = response.json().await.map_err(|e| e.to_string())?;
                    match body["refresh_token"].as_str() {
                        Some(next) if status.is_success() => {
                            Ok((client_id, resource, next.to_string()))
                        }
                        _ => Err(format!("{status}: {}", body["error"])),
                    }
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        per_second.push(results.len() as f64 / started.elapsed().as_secs_f64());
        failed += results.iter().filter(|r| r.is_err()).count();
        tokens = results.into_iter().filter_map(Result::ok).collect();
    }
    Ok(json!({ "concurrency": concurrency, "per_second": per_second, "failed": failed }))
}
