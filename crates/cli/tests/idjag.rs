//! Enterprise-managed sign-in (MCP SEP-990) against real oidc-provider
//! servers: a second instance plays the organisation's identity provider
//! (its token exchange issues ID-JAGs, tests/servers/idjag.mjs), and the
//! main and tenant authorization servers take them with the JWT bearer
//! grant. One sign-in at the IdP, in Chromium, reaches every MCP server
//! behind it; an ID-JAG that would be refused is not sent; a missing ID
//! token file is a clear error with nothing sent.

mod support;

use mcpauth_testkit::{call_tool, jwt_claims, servers};
use serde_json::{json, Value};
use support::Env;

const IDP_CLIENT: &str = "mcpauth-idp";
const AS_CLIENT: &str = "mcpauth-idjag";

/// The tests count what reached the shared servers, so they run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every token exchange at the IdP and every ID-JAG presented to an
/// authorization server, in order: (kind, outcome, reason).
async fn idjag_log() -> Vec<(String, String, String)> {
    support::test_log(servers(), "idjag-log")
        .await
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (text("kind"), text("outcome"), text("reason"))
        })
        .collect()
}

async fn idjag_log_since(before: usize) -> Vec<(String, String, String)> {
    idjag_log().await.split_off(before)
}

/// Spoils the next ID-JAG the IdP issues, or refuses its next exchange.
async fn spoil_next(hook: Value) {
    let status = reqwest::Client::new()
        .post(format!("{}/__test/idjag-next", servers().issuer()))
        .json(&hook)
        .send()
        .await
        .expect("idjag-next")
        .status();
    assert!(status.is_success(), "idjag-next {hook}: {status}");
}

fn secret_file(env: &Env) -> String {
    let path = env.home.join("as-client-secret");
    std::fs::write(&path, servers().client_str("idjag", "client_secret")).expect("write");
    path.display().to_string()
}

/// `mcpauth login <server> --idp …` with `extra` flags.
fn login(env: &Env, server: &str, extra: &[&str]) -> std::process::Output {
    let secret = secret_file(env);
    env.cmd()
        .args(["login", server, "--idp", servers().idp_issuer()])
        .args(["--idp-client-id", IDP_CLIENT, "--client-id", AS_CLIENT])
        .args(["--client-secret-file", &secret, "--scope", "mcp:read"])
        .args(extra)
        .output()
        .expect("login")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn exchange(outcome: &str) -> (String, String, String) {
    ("exchange".into(), outcome.into(), String::new())
}

fn grant(outcome: &str) -> (String, String, String) {
    ("grant".into(), outcome.into(), String::new())
}

/// The log without reasons, for the successful steps.
fn outcomes(log: &[(String, String, String)]) -> Vec<(String, String, String)> {
    log.iter()
        .map(|(k, o, _)| (k.clone(), o.clone(), String::new()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_sign_in_at_the_idp_reaches_every_server_behind_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = Env::new();
    let before = idjag_log().await.len();

    // The first server: the browser signs in at the IdP, once.
    let out = login(&env, servers().mcp("current"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.browser_runs(), 1, "one sign-in, at the IdP");
    let browsed = std::fs::read_to_string(env.home.join("browser.log")).expect("browser log");
    assert!(browsed.starts_with(servers().idp_issuer()), "{browsed}");
    assert!(
        !browsed.contains("resource="),
        "an ID token names no resource: {browsed}"
    );
    let account = env.only_account();
    assert_eq!(account["kind"], "machine");
    assert_eq!(
        account["assertion_source"],
        json!({ "id_jag": { "issuer": servers().idp_issuer(), "client_id": IDP_CLIENT, "id_token": "sign_in" } })
    );
    let id = account["id"].as_str().expect("id").to_string();
    let token = env.token(&id);
    let claims = jwt_claims(&token);
    assert_eq!(claims["client_id"], AS_CLIENT);
    assert!(
        claims["sub"].as_str().is_some_and(|s| !s.is_empty()),
        "{claims}"
    );
    let whoami = call_tool(servers().mcp("current"), &token, "whoami").await;
    assert_eq!(whoami.status, 200, "the MCP server takes the token");

    // A server behind another authorization server that trusts the same IdP:
    // no browser at all.
    let out = login(&env, servers().mcp("fallback"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.browser_runs(), 1, "no second sign-in");
    let other = env
        .accounts()
        .into_iter()
        .find(|a| a["id"] != id.as_str())
        .expect("a second account");
    assert_eq!(other["issuer"], servers().tenant_issuer());
    let other_token = env.token(other["id"].as_str().expect("id"));
    assert_eq!(
        jwt_claims(&other_token)["sub"],
        claims["sub"],
        "the same person"
    );

    // A refresh is a fresh ID-JAG, still without the browser.
    let out = env.cmd().args(["refresh", &id]).output().expect("refresh");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(env.token(&id), token);
    assert_eq!(env.browser_runs(), 1);
    assert_eq!(
        outcomes(&idjag_log_since(before).await),
        [
            exchange("issued"),
            grant("granted"),
            exchange("issued"),
            grant("granted"),
            exchange("issued"),
            grant("granted")
        ],
        "one exchange and one grant per token"
    );

    // Through the proxy: an SDK client reaches the server with the account.
    let secret = secret_file(&env);
    let check = env.check(
        "v1",
        None,
        Some("tools,whoami"),
        &[
            servers().mcp("current"),
            "--idp",
            servers().idp_issuer(),
            "--idp-client-id",
            IDP_CLIENT,
            "--client-id",
            AS_CLIENT,
            "--client-secret-file",
            &secret,
        ],
    );
    check.ok("tools");
    check.ok("whoami");
    assert_eq!(
        env.browser_runs(),
        1,
        "the proxy used the account and the sign-in"
    );
    assert_eq!(env.accounts().len(), 2, "no third account");

    // The ID token, refresh token and ID-JAGs stayed in the keyring and the
    // wire: no file of MCP Auth's holds a JWT.
    for (name, bytes) in mcpauth_testkit::all_files(&env.home) {
        if name.to_string_lossy().contains("browser") {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("eyJ"), "{} holds a JWT", name.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_jag_the_authorization_server_would_refuse_is_not_sent() {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = Env::new();
    let out = login(&env, servers().mcp("current"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = env.only_account()["id"].as_str().expect("id").to_string();

    for (hook, why) in [
        (json!({ "expired": true }), "expired"),
        (
            json!({ "audience": "https://wrong.example" }),
            "for https://wrong.example, not for the authorization server",
        ),
    ] {
        let before = idjag_log().await.len();
        spoil_next(hook.clone()).await;
        let out = env.cmd().args(["refresh", &id]).output().expect("refresh");
        assert!(!out.status.success(), "{hook}");
        let text = stderr(&out);
        assert!(
            text.contains(why) && text.contains("not sent to the authorization server"),
            "{hook}: {text}"
        );
        assert!(!text.contains("eyJ"), "no token in the error: {text}");
        assert_eq!(
            outcomes(&idjag_log_since(before).await),
            [exchange("issued")],
            "{hook}: issued by the IdP, never presented"
        );
    }
    // The grant was not lost: the next token request gets a good ID-JAG.
    let renewed = env.token(&id);
    assert_eq!(
        call_tool(servers().mcp("current"), &renewed, "whoami")
            .await
            .status,
        200
    );

    // An ID-JAG for another client reaches the authorization server (the
    // client cannot tell), which refuses it; the account then says why.
    let before = idjag_log().await.len();
    spoil_next(json!({ "client_id": "someone-else" })).await;
    let out = env.cmd().args(["refresh", &id]).output().expect("refresh");
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(
        text.contains("refused the ID-JAG") && text.contains("administrator"),
        "{text}"
    );
    let log = idjag_log_since(before).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        (log[1].0.as_str(), log[1].1.as_str()),
        ("grant", "refused"),
        "{log:?}"
    );
    assert!(log[1].2.contains("client_id"), "{log:?}");
    assert_eq!(env.only_account()["status"]["state"], "needs_sign_in");

    // Logging in again tries once more, with the sign-in at the IdP as it is.
    let out = login(&env, servers().mcp("current"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.accounts().len(), 1, "the same account");
    assert_eq!(env.only_account()["status"]["state"], "active");
    assert_eq!(env.browser_runs(), 1, "the IdP sign-in still holds");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_the_idp_refuses_is_renewed_with_its_refresh_token() {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = Env::new();
    let out = login(&env, servers().mcp("current"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = env.only_account()["id"].as_str().expect("id").to_string();

    // The IdP refuses the ID token once: the refresh token renews it, and
    // the refresh goes through without a browser.
    spoil_next(json!({ "refuse": "invalid_grant" })).await;
    let out = env.cmd().args(["refresh", &id]).output().expect("refresh");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.browser_runs(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_id_token_file_is_a_clear_error_and_nothing_is_sent() {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = Env::new();
    let before = idjag_log().await.len();
    let missing = env.home.join("no-such-id-token");
    let out = login(
        &env,
        servers().mcp("current"),
        &["--id-token-file", missing.to_str().expect("path")],
    );
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(
        text.contains("ID token from the file")
            && text.contains("does not exist")
            && text.contains("nothing was sent"),
        "{text}"
    );
    assert!(
        idjag_log_since(before).await.is_empty(),
        "nothing reached the IdP"
    );
    assert!(env.accounts().is_empty(), "no account");
    assert_eq!(env.browser_runs(), 0);

    // --idp without the IdP's client, or without the server's: said at once.
    let out = env
        .cmd()
        .args([
            "login",
            servers().mcp("current"),
            "--idp",
            servers().idp_issuer(),
            "--client-id",
            AS_CLIENT,
        ])
        .output()
        .expect("login");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--idp needs --idp-client-id"),
        "{}",
        stderr(&out)
    );
    let out = env
        .cmd()
        .args([
            "login",
            servers().mcp("current"),
            "--idp",
            servers().idp_issuer(),
            "--idp-client-id",
            IDP_CLIENT,
        ])
        .output()
        .expect("login");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--idp needs --client-id"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_confidential_client_at_the_idp_authenticates_there_with_its_kept_secret() {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = Env::new();
    let idp_secret = env.home.join("idp-client-secret");
    std::fs::write(
        &idp_secret,
        servers().client_str("idp_secret", "client_secret"),
    )
    .expect("write");
    let secret = secret_file(&env);
    let before = support::test_log(servers(), "idjag-log").await.len();
    let out = env
        .cmd()
        .args([
            "login",
            servers().mcp("current"),
            "--idp",
            servers().idp_issuer(),
        ])
        .args([
            "--idp-client-id",
            "mcpauth-idp-secret",
            "--idp-client-secret-file",
        ])
        .arg(&idp_secret)
        .args(["--client-id", AS_CLIENT, "--client-secret-file", &secret])
        .output()
        .expect("login");
    assert!(out.status.success(), "{}", stderr(&out));
    let log = support::test_log(servers(), "idjag-log")
        .await
        .split_off(before);
    assert_eq!(log[0]["kind"], "exchange", "{log:?}");
    assert_eq!(log[0]["client_id"], "mcpauth-idp-secret", "{log:?}");
    assert_eq!(log[0]["outcome"], "issued", "{log:?}");
    // The secret went to the keyring, not into MCP Auth's files.
    let value = servers().client_str("idp_secret", "client_secret");
    for (name, bytes) in mcpauth_testkit::all_files(&env.home) {
        if name == idp_secret {
            continue;
        }
        assert!(
            !String::from_utf8_lossy(&bytes).contains(value),
            "{} holds the IdP client secret",
            name.display()
        );
    }
}
