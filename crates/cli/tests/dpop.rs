//! DPoP (RFC 9449) end to end: the `dpop` MCP server of tests/servers takes
//! only DPoP-bound tokens and checks every proof (dpop.mjs); its authorization
//! server is the real oidc-provider with DPoP on, which asks for its nonce in
//! every proof. So none of these sign-ins or refreshes succeeds without the
//! nonce retry at the token endpoint (RFC 9449 §8), and no call without the
//! one at the MCP server (§9).

mod support;

use mcpauth_testkit::{jwt_claims, servers};
use serde_json::{json, Value};
use support::{initialize, Env};

const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

fn call(id: u64, tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": {}}})
}

/// What the DPoP MCP server accepted and refused of the requests whose proofs
/// the key `jkt` signed (the server is shared by every test of this binary).
async fn dpop_stats(jkt: &str) -> Value {
    let url = url::Url::parse(servers().mcp("dpop")).expect("url");
    reqwest::get(format!(
        "{}/__test/dpop?jkt={jkt}",
        url.origin().ascii_serialization()
    ))
    .await
    .expect("stats")
    .json()
    .await
    .expect("stats JSON")
}

fn refused(stats: &Value, reason: &str) -> u64 {
    stats["refused"][reason].as_u64().unwrap_or(0)
}

fn text_of(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {answer}"))
        .to_string()
}

/// `mcpauth token <id> --dpop-proof <method> <url> --format json`.
fn token_with_proof(env: &Env, id: &str, method: &str, url: &str) -> Value {
    env.json(&["token", id, "--format", "json", "--dpop-proof", method, url])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_through_the_proxy_binds_the_tokens_and_every_call_proves_the_key() {
    let env = Env::new();
    let url = servers().mcp("dpop");
    let mut proxy = env.raw_proxy(&[url]).await;
    let init = proxy.call(initialize(1, "2025-11-25")).await;
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25", "{init}");
    proxy
        .send(&serde_json::from_str(INITIALIZED).expect("json"))
        .await;
    let who = proxy.call(call(2, "whoami")).await;
    assert!(text_of(&who).contains("mcp:read"), "{who}");
    // A step-up (write_note needs mcp:write) signs in again with the same key.
    let wrote = proxy.call(call(3, "write_note")).await;
    assert_eq!(text_of(&wrote), "saved", "{wrote}");
    let stderr = proxy.finish().await;

    let account = env.only_account();
    assert_eq!(account["token_type"], "DPoP", "{account}\n{stderr}");
    let jkt = account["dpop_jkt"]
        .as_str()
        .unwrap_or_else(|| panic!("no key thumbprint on {account}"))
        .to_string();
    assert_eq!(env.browser_runs(), 2, "the sign-in and the step-up");
    // What the server saw of this key: a key made for this account alone.
    let seen = dpop_stats(&jkt).await;
    assert!(
        seen["accepted"].as_u64() >= Some(4),
        "initialize, initialized, whoami, write_note each accepted: {seen}"
    );
    assert!(
        refused(&seen, "use_dpop_nonce") >= 1,
        "the server's first answer asked for its nonce: {seen}"
    );
    for reason in ["invalid_dpop_proof", "invalid_token"] {
        assert_eq!(
            refused(&seen, reason),
            0,
            "no proof or token of ours was refused ({reason}): {seen}\n{stderr}"
        );
    }

    let status = env
        .cmd()
        .args(["status", account["id"].as_str().expect("id")])
        .output()
        .expect("status");
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains(&format!("DPoP key (thumbprint {jkt})")),
        "{status}"
    );

    // The token alone is refused by `mcpauth token`, with the way out.
    let out = env
        .cmd()
        .args(["token", account["id"].as_str().expect("id")])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no token on stdout");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("bound to a DPoP key") && said.contains("mcpauth proxy"),
        "{said}"
    );
    assert!(
        !said.contains("  "),
        "one sentence, no stray spaces: {said}"
    );
    // Nor does an export that would print it for a shell or curl.
    for target in ["env", "curl"] {
        let out = env
            .cmd()
            .args(["export", target, account["id"].as_str().expect("id")])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "export {target}");
        assert!(out.stdout.is_empty(), "export {target}: no token on stdout");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("bound to a DPoP key"),
            "export {target}"
        );
    }

    // A refresh keeps the key: the new token is bound to the same thumbprint.
    let id = account["id"].as_str().expect("id");
    env.json(&["refresh", id, "--json"]);
    let fresh = token_with_proof(&env, id, "POST", url);
    assert_eq!(fresh["token_type"], "DPoP", "{fresh}");
    let claims = jwt_claims(fresh["access_token"].as_str().expect("token"));
    assert_eq!(claims["cnf"]["jkt"], jkt.as_str(), "{claims}");
    assert_eq!(env.only_account()["dpop_jkt"], jkt.as_str());
    assert_eq!(env.browser_runs(), 2, "a refresh needs no browser");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_printed_proof_passes_the_servers_checks_and_one_for_another_request_is_refused() {
    let env = Env::new();
    let url = servers().mcp("dpop");
    env.cmd()
        .args(["login", url, "--scope", "mcp:read", "--json"])
        .assert()
        .success();
    let id = env.only_account()["id"].as_str().expect("id").to_string();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "curl-like", "version": "1"}}});
    let send = |printed: Value| {
        let body = body.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .header(
                    "authorization",
                    format!("DPoP {}", printed["access_token"].as_str().expect("token")),
                )
                .header("dpop", printed["dpop"].as_str().expect("proof"))
                .header("accept", "application/json, text/event-stream")
                .json(&body)
                .send()
                .await
                .expect("send")
        }
    };
    // For this request: the signature, htm, htu, iat and ath all pass; the
    // server then asks for its nonce, which a printed proof cannot carry.
    let answer = send(token_with_proof(&env, &id, "POST", url)).await;
    assert_eq!(answer.status(), 401);
    let challenge = answer.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains(r#"error="use_dpop_nonce""#),
        "{challenge}"
    );
    assert!(answer.headers().contains_key("dpop-nonce"));
    // A proof for another method is refused as a proof.
    let answer = send(token_with_proof(&env, &id, "GET", url)).await;
    assert_eq!(answer.status(), 401);
    let challenge = answer.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        challenge.contains(r#"error="invalid_dpop_proof""#) && challenge.contains("htm"),
        "{challenge}"
    );
    // And the token as a Bearer token is refused outright.
    let printed = token_with_proof(&env, &id, "POST", url);
    let answer = reqwest::Client::new()
        .post(url)
        .bearer_auth(printed["access_token"].as_str().expect("token"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(answer.status(), 401);

    // Bad requests for a proof say what was wrong.
    for (method, target, expected) in [
        ("P O", url, "not an HTTP method"),
        ("POST", "not a url", "not an absolute URL"),
    ] {
        let out = env
            .cmd()
            .args(["token", &id, "--dpop-proof", method, target])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(expected), "{said}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_account_gets_a_bound_token_by_client_credentials() {
    let env = Env::new();
    let url = servers().mcp("dpop");
    let key = env.home.join("es256.pem");
    std::fs::write(&key, servers().client_str("es256", "private_key_pem")).expect("write");
    let out = env
        .cmd()
        .args([
            "login",
            url,
            "--grant",
            "client-credentials",
            "--client-id",
            "mcpauth-es256",
            "--scope",
            "mcp:read",
            "--private-key",
        ])
        .arg(&key)
        .output()
        .expect("login");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let account = env.only_account();
    assert_eq!(account["token_type"], "DPoP", "{account}");
    assert_eq!(account["kind"], "machine", "{account}");
    let check = env.check(
        "v1",
        None,
        Some("tools"),
        &[
            url,
            "--grant",
            "client-credentials",
            "--client-id",
            "mcpauth-es256",
            "--private-key",
            key.to_str().expect("path"),
        ],
    );
    check.ok("tools");
    assert_eq!(
        env.browser_runs(),
        0,
        "a machine account never opens a browser"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bearer_server_behind_a_dpop_authorization_server_keeps_bearer_tokens() {
    // The main authorization server offers DPoP (oidc-provider's default);
    // the `current` MCP server takes Bearer tokens only and says nothing of
    // DPoP. A bound token would be refused there, so none is asked for.
    let env = Env::new();
    env.cmd()
        .args(["login", servers().mcp("current"), "--scope", "mcp:read"])
        .assert()
        .success();
    let account = env.only_account();
    assert_eq!(account["token_type"], "Bearer", "{account}");
    assert!(account.get("dpop_jkt").is_none(), "{account}");
    let token = env.token(account["id"].as_str().expect("id"));
    assert!(jwt_claims(&token).get("cnf").is_none());
}
