//! `mcpauth proxy` under load and through an outage: ten proxies on one
//! account whose token expires while each keeps calling, and the
//! authorization server down while a proxy needs a refresh. Real processes,
//! the real authorization server (oidc-provider) and an SDK 1.x MCP server.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcpauth_testkit::Servers;
use serde_json::{json, Value};
use support::{initialize, Env, RawProxy};

fn echo(id: u64, text: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": text}}})
}

/// What an echo call answered: its text, or what went wrong.
fn echoed(answer: &Value) -> Result<String, String> {
    match answer["result"]["content"][0]["text"].as_str() {
        Some(text) if answer["result"]["isError"] != true => Ok(text.to_string()),
        _ => Err(answer.to_string()),
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn login(env: &Env, url: &str) -> String {
    let out = env.cmd().args(["login", url]).output().expect("login");
    assert!(
        out.status.success(),
        "login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.only_account()["id"]
        .as_str()
        .expect("account id")
        .to_string()
}

/// The vault of this test's home, as another process would open it.
fn vault(env: &Env) -> mcpauth_vault::Vault {
    let mut options = mcpauth_vault::VaultOptions::from_env().expect("options");
    options.home = env.home.clone();
    options.keyring_service = env.service.clone();
    mcpauth_vault::Vault::open(options).expect("vault")
}

/// Sets the access token's expiry (and so its generation) as if time had passed.
fn expire(env: &Env, id: &str, at: i64) {
    vault(env).expire_access_token(id, at).expect("expire");
}

async fn started_proxy(env: &Env, url: &str) -> RawProxy {
    let mut proxy = env.raw_proxy(&[url]).await;
    let init = proxy.call(initialize(0, "2025-11-25")).await;
    assert!(init.get("result").is_some(), "initialize: {init}");
    proxy
        .send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    proxy
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_proxies_on_one_account_share_one_refresh_and_no_call_fails() {
    let servers = Servers::start(&[]);
    let env = Env::new();
    let url = servers.mcp("ts1").to_string();
    let id = login(&env, &url);
    let refresh_token_before = env.refresh_token(&id);
    let mut proxies = Vec::new();
    for _ in 0..10 {
        proxies.push(started_proxy(&env, &url).await);
    }
    let refreshes_before = servers.grants("refresh_token").await;

    // Each proxy calls in a steady stream, each call waiting for its answer.
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Vec<Arc<AtomicUsize>> = (0..10).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let streams: Vec<_> = proxies
        .into_iter()
        .enumerate()
        .map(|(p, mut proxy)| {
            let stop = stop.clone();
            let count = counts[p].clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let text = format!("proxy {p} call {n}");
                    match echoed(&proxy.call(echo(n, &text)).await) {
                        Ok(got) if got == text => {}
                        Ok(got) => failures.push(format!("{text}: answered {got}")),
                        Err(e) => failures.push(format!("{text}: {e}")),
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                }
                (proxy, failures)
            })
        })
        .collect();

    // Every stream is running before the token expires, and keeps running
    // after: each proxy makes calls on both sides of the expiry.
    let running = |counts: &[Arc<AtomicUsize>], at_least: &[usize]| {
        counts
            .iter()
            .zip(at_least)
            .all(|(c, n)| c.load(Ordering::Relaxed) > *n)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running(&counts, &[2; 10]) {
        assert!(Instant::now() < deadline, "every proxy makes calls");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    expire(&env, &id, now_secs() - 10);
    let at_expiry: Vec<usize> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let after: Vec<usize> = at_expiry.iter().map(|n| n + 5).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running(&counts, &after) {
        assert!(
            Instant::now() < deadline,
            "every proxy keeps calling after the expiry: {:?} → {:?}",
            at_expiry,
            counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);

    let mut failures = Vec::new();
    let mut stderr = String::new();
    for stream in streams {
        let (proxy, failed) = stream.await.expect("stream");
        failures.extend(failed);
        stderr.push_str(&proxy.finish().await);
    }
    let total: usize = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    eprintln!("ten proxies: {total} calls, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "no call fails: {failures:#?}\nproxies' stderr:\n{stderr}"
    );
    assert_eq!(
        servers.grants("refresh_token").await,
        refreshes_before + 1,
        "exactly one refresh reached the server\nproxies' stderr:\n{stderr}"
    );
    assert_eq!(
        servers.refused("refresh_token").await,
        0,
        "no refresh token was presented twice (oidc-provider refuses a spent one)"
    );
    assert_ne!(env.refresh_token(&id), refresh_token_before, "rotated once");
    assert_eq!(env.browser_runs(), 1, "the sign-in only");
}

/// Turns the authorization server's token endpoint off or on (tests/servers/start.mjs).
async fn outage(servers: &Servers, down: bool) -> Value {
    let answer = reqwest::Client::new()
        .post(format!("{}/__test/outage", servers.issuer()))
        .json(&json!({"down": down}))
        .send()
        .await
        .expect("POST /__test/outage");
    assert!(answer.status().is_success(), "{answer:?}");
    answer.json().await.expect("outage JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_authorization_server_down_during_a_refresh_costs_one_clear_error_and_no_sign_in() {
    let servers = Servers::start(&[]);
    let env = Env::new();
    let url = servers.mcp("ts1").to_string();
    let id = login(&env, &url);
    let mut proxy = started_proxy(&env, &url).await;
    assert_eq!(
        echoed(&proxy.call(echo(1, "before")).await),
        Ok("before".into())
    );
    let refreshes_before = servers.grants("refresh_token").await;
    outage(&servers, true).await;

    // Due for its refresh but still valid: the refresh fails and the call
    // goes through with the token it has.
    expire(&env, &id, now_secs() + 40);
    assert_eq!(
        echoed(&proxy.call(echo(2, "still valid")).await),
        Ok("still valid".into()),
        "a token that has not expired serves while its refresh cannot"
    );
    assert!(
        outage(&servers, true).await["refused"].as_u64() > Some(0),
        "the refresh was tried"
    );

    // Expired: the call is answered at once with an error that says why.
    expire(&env, &id, now_secs() - 10);
    let started = Instant::now();
    let answer = proxy.call(echo(3, "expired")).await;
    let took = started.elapsed();
    let error = echoed(&answer).expect_err("no token, no call");
    eprintln!("outage: answered in {took:?}: {error}");
    assert!(
        answer["error"]["message"].is_string(),
        "a JSON-RPC error: {answer}"
    );
    assert!(
        error.contains("could not reach") || error.contains("cannot reach"),
        "says the authorization server could not be reached: {error}"
    );
    assert!(
        took < Duration::from_secs(20),
        "answered within the refresh's retries, not a hang: {took:?}"
    );
    let account = env.only_account();
    assert_ne!(
        account["status"]["state"], "needs_sign_in",
        "a passing failure does not end the grant: {account}"
    );

    // Back up: the next call refreshes and succeeds, without a browser.
    outage(&servers, false).await;
    assert_eq!(
        echoed(&proxy.call(echo(4, "after")).await),
        Ok("after".into())
    );
    assert_eq!(servers.grants("refresh_token").await, refreshes_before + 1);
    assert_eq!(env.browser_runs(), 1, "the sign-in only");
    proxy.finish().await;
}
