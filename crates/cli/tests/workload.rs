//! Workload identity (MCP SEP-1933): a machine account whose grant is its
//! platform's JWT, sent with the JWT bearer grant (RFC 7523 §2.1) to
//! oidc-provider (tests/servers/workload.mjs plays the platform and registers
//! the grant). The assertion is read afresh at every token request, from a
//! file or an environment variable; one that cannot be used is not sent, and
//! one the server refused is not sent again.

mod support;

use mcpauth_testkit::{call_tool, jwt_claims, servers};
use serde_json::{json, Value};
use support::{initialize, Env};

const CLIENT: &str = "mcpauth-workload";

/// The tests count what reached the shared authorization server, so they
/// run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A token as the platform projects it into the workload.
async fn platform_token(sub: &str, aud: Option<&str>, expires_in: i64) -> String {
    let mut body = json!({ "sub": sub, "expires_in": expires_in });
    if let Some(aud) = aud {
        body["aud"] = json!(aud);
    }
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/__test/workload-token", servers().issuer()))
        .json(&body)
        .send()
        .await
        .expect("workload token")
        .json()
        .await
        .expect("JSON");
    answer["assertion"].as_str().expect("assertion").to_string()
}

/// Every JWT bearer request the authorization server received: (subject,
/// outcome); the subject is null when the assertion did not verify.
async fn jwt_bearer_requests() -> Vec<(Option<String>, String)> {
    support::test_log(servers(), "workload-log")
        .await
        .iter()
        .map(|r| {
            (
                r["sub"].as_str().map(str::to_string),
                r["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn login_args<'a>(source: &'a [&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "login",
        servers().mcp("current"),
        "--grant",
        "jwt-bearer",
        "--client-id",
        CLIENT,
        "--scope",
        "mcp:read",
    ];
    args.extend_from_slice(source);
    args
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workload_signs_in_with_its_platform_token_read_afresh_at_every_request() {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = Env::new();
    let file = env.home.join("platform-token");
    std::fs::write(&file, platform_token("wif-first", None, 600).await + "\n").expect("write");
    let before = jwt_bearer_requests().await.len();

    let path = file.to_str().expect("utf-8 path");
    let out = env
        .cmd()
        .args(login_args(&["--assertion-file", path]))
        .output()
        .expect("login");
    assert!(out.status.success(), "{}", stderr(&out));
    let account = env.only_account();
    assert_eq!(account["kind"], "machine");
    assert_eq!(account["client_auth"], "none", "a workload has no secret");
    assert_eq!(account["assertion_source"], json!({ "file": path }));
    let id = account["id"].as_str().expect("id");
    let token = env.token(id);
    assert_eq!(jwt_claims(&token)["client_id"], CLIENT);
    assert_eq!(
        call_tool(servers().mcp("current"), &token, "whoami")
            .await
            .status,
        200,
        "the MCP server accepts the token"
    );

    // The platform renews its token: the next token request reads the new one.
    std::fs::write(&file, platform_token("wif-second", None, 600).await).expect("write");
    let out = env.cmd().args(["refresh", id]).output().expect("refresh");
    assert!(out.status.success(), "{}", stderr(&out));
    let renewed = env.token(id);
    assert_ne!(renewed, token);
    let seen = jwt_bearer_requests().await.split_off(before);
    assert_eq!(
        seen,
        [
            (Some("wif-first".into()), "granted".into()),
            (Some("wif-second".into()), "granted".into()),
        ],
        "one request per token, each with the assertion the file held then"
    );
    // The file alone held the assertion: it is in no file of MCP Auth's.
    let assertion = std::fs::read_to_string(&file).expect("read");
    for (name, bytes) in mcpauth_testkit::all_files(&env.home) {
        if name.ends_with("platform-token") {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(assertion.trim()),
            "the assertion is in {}",
            name.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_reads_the_assertion_from_its_own_environment() {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = Env::new();
    let before = jwt_bearer_requests().await.len();
    let jwt = platform_token("wif-ci-job", None, 600).await;
    let check = env.check_with(
        "v1",
        None,
        Some("tools,whoami"),
        &[
            servers().mcp("current"),
            "--grant",
            "jwt-bearer",
            "--client-id",
            CLIENT,
            "--assertion-env",
            "MCPAUTH_TEST_WORKLOAD_JWT",
        ],
        &[("MCPAUTH_TEST_WORKLOAD_JWT", &jwt)],
    );
    assert_eq!(check.ok("whoami")["client_id"], CLIENT, "{}", check.stderr);
    let account = env.only_account();
    assert_eq!(
        account["assertion_source"],
        json!({ "env": "MCPAUTH_TEST_WORKLOAD_JWT" })
    );
    assert_eq!(
        jwt_bearer_requests().await.split_off(before),
        [(Some("wif-ci-job".into()), "granted".into())]
    );

    // `mcpauth token` in a shell without the variable: told, nothing sent.
    let id = account["id"].as_str().expect("id");
    let out = env.cmd().args(["refresh", id]).output().expect("refresh");
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(
        message.contains("variable MCPAUTH_TEST_WORKLOAD_JWT")
            && message.contains("is not set in this process")
            && message.contains("nothing was sent"),
        "{message}"
    );
    assert_eq!(jwt_bearer_requests().await.len(), before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_assertion_that_cannot_be_used_is_not_sent() {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = Env::new();
    let before = jwt_bearer_requests().await.len();
    let file = env.home.join("token");
    let path = file.to_str().expect("utf-8 path").to_string();
    let expired = platform_token("wif-expired", None, -120).await;
    let cases: Vec<(Option<String>, Vec<&str>, Vec<&str>)> = vec![
        // (file content, flags, what the one-line error says)
        (
            None,
            vec!["--assertion-file", &path],
            vec![&path, "does not exist", "nothing was sent"],
        ),
        (
            Some(expired.clone()),
            vec!["--assertion-file", &path],
            vec![&path, "expired", "not renewed it", "nothing was sent"],
        ),
        (
            Some("ghp_not-a-jwt-at-all".into()),
            vec!["--assertion-file", &path],
            vec!["is not a JWT", "nothing was sent"],
        ),
        (
            None,
            vec!["--assertion-env", "MCPAUTH_TEST_SURELY_UNSET"],
            vec![
                "variable MCPAUTH_TEST_SURELY_UNSET",
                "is not set in this process",
            ],
        ),
    ];
    for (content, flags, says) in cases {
        match &content {
            Some(text) => std::fs::write(&file, text).expect("write"),
            None => {
                let _ = std::fs::remove_file(&file);
            }
        }
        let out = env.cmd().args(login_args(&flags)).output().expect("login");
        let message = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {message}");
        assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
        for part in says {
            assert!(message.contains(part), "{flags:?}: `{part}` in {message}");
        }
        assert!(
            !message.contains("ghp_not-a-jwt") && !message.contains(&expired),
            "the assertion is not quoted: {message}"
        );
    }
    // Flags that belong to another grant are refused, not ignored.
    let out = env
        .cmd()
        .args(["login", servers().mcp("current"), "--assertion-file", &path])
        .output()
        .expect("login");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("are for --grant jwt-bearer"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        jwt_bearer_requests().await.len(),
        before,
        "nothing reached the authorization server"
    );
    assert!(env.accounts().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_assertion_is_not_sent_again_and_a_renewed_one_is() {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = Env::new();
    let file = env.home.join("token");
    let path = file.to_str().expect("utf-8 path").to_string();
    let before = jwt_bearer_requests().await.len();
    let since = |n: usize| async move { jwt_bearer_requests().await.split_off(n) };

    // For another audience: refused once, no second try, no other grant.
    std::fs::write(
        &file,
        platform_token("wif-elsewhere", Some("https://wrong.example"), 600).await,
    )
    .expect("write");
    let out = env
        .cmd()
        .args(login_args(&["--assertion-file", &path]))
        .output()
        .expect("login");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid_grant"), "{}", stderr(&out));
    assert_eq!(since(before).await, [(None, "refused".to_string())]);
    assert!(env.accounts().is_empty());

    // A good one makes the account.
    std::fs::write(&file, platform_token("wif-good", None, 600).await).expect("write");
    let out = env
        .cmd()
        .args(login_args(&["--assertion-file", &path]))
        .output()
        .expect("login");
    assert!(out.status.success(), "{}", stderr(&out));
    let id = env.only_account()["id"].as_str().expect("id").to_string();

    // The platform hands out a bad one: refused once, then not sent again,
    // however often a token is asked for.
    std::fs::write(
        &file,
        platform_token("wif-bad", Some("https://wrong.example"), 600).await,
    )
    .expect("write");
    let out = env.cmd().args(["refresh", &id]).output().expect("refresh");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("refused the workload assertion from the file"),
        "{}",
        stderr(&out)
    );
    let after_refusal = jwt_bearer_requests().await.len();
    for _ in 0..2 {
        let out = env.cmd().args(["token", &id]).output().expect("token");
        assert!(!out.status.success());
        assert!(stderr(&out).contains("not sent again"), "{}", stderr(&out));
    }
    // Nor by a proxy on the account: each call is told why, and nothing is sent.
    let mut proxy = env.raw_proxy(&[&id]).await;
    for n in 1..=2 {
        let answer = proxy.call(initialize(n, "2025-11-25")).await;
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("not sent again"), "{answer}");
    }
    let proxy_log = proxy.finish().await;
    assert_eq!(
        jwt_bearer_requests().await.len(),
        after_refusal,
        "the refused assertion was not sent again; the proxy said:\n{proxy_log}"
    );
    assert_eq!(env.only_account()["status"]["state"], "needs_sign_in");

    // Renewed by the platform: the next token request tries it, and the account is well again.
    std::fs::write(&file, platform_token("wif-renewed", None, 600).await).expect("write");
    let token = env.token(&id);
    assert_eq!(
        call_tool(servers().mcp("current"), &token, "whoami")
            .await
            .status,
        200
    );
    assert_eq!(
        since(before).await,
        [
            (None, "refused".to_string()),
            (Some("wif-good".into()), "granted".into()),
            (None, "refused".into()),
            (Some("wif-renewed".into()), "granted".into()),
        ]
    );
    assert_eq!(env.only_account()["status"]["state"], "active");
}
