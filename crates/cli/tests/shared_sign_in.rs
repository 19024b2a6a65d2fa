//! One sign-in per authorization server through the CLI and the proxy,
//! against oidc-provider with the client whose grants cover every MCP server
//! on it (`mcpauth-shared`, tests/servers/as.mjs): `login --through` adds a
//! server without a browser, and once the server accepted that, `login` and
//! the proxy's first sign-in do so unprompted.

mod support;

use mcpauth_testkit::servers;
use support::Env;

fn login(env: &Env, args: &[&str]) -> (serde_json::Value, String) {
    let out = env
        .cmd()
        .arg("login")
        .args(args)
        .arg("--json")
        .output()
        .expect("run login");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "login {args:?}: {stderr}");
    let account = serde_json::from_slice(&out.stdout).expect("JSON account");
    (account, stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_and_third_server_need_no_browser() {
    let env = Env::new();
    let s = servers();
    let (holder, _) = login(&env, &[s.mcp("current"), "--client-id", "mcpauth-shared"]);
    let holder_id = holder["id"].as_str().expect("id");
    assert_eq!(env.browser_runs(), 1);

    // Not asked unprompted the first time; the message says how.
    let out = env
        .cmd()
        .args(["login", s.mcp("ts1"), "--no-browser"])
        .write_stdin("")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("mcpauth login --through {holder_id}")),
        "{stderr}"
    );
    assert!(!out.status.success(), "nothing pasted: no sign-in");
    assert_eq!(env.accounts().len(), 1);

    let (second, stderr) = login(&env, &[s.mcp("ts1"), "--through", holder_id]);
    assert!(stderr.contains("without a browser"), "{stderr}");
    assert_eq!(env.browser_runs(), 1, "no browser");
    assert_eq!(second["grant_holder"], holder_id);
    let second_id = second["id"].as_str().expect("id");
    let show = env
        .cmd()
        .args(["status", second_id])
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains(&format!("account {holder_id}'s, whose sign-in at")),
        "{text}"
    );
    let token = env.token(second_id);
    assert_eq!(
        mcpauth_testkit::jwt_claims(&token)["aud"],
        s.mcp("ts1"),
        "a token for the new server"
    );

    // The authorization server accepted: the proxy's first sign-in at a
    // third server shares it too, and every call works through it.
    let check = env.check("v2", None, None, &[s.mcp("ts2")]);
    assert_eq!(check.ok("whoami")["sub"], "alice", "{}", check.stderr);
    assert!(
        check.stderr.contains("without a browser"),
        "{}",
        check.stderr
    );
    assert_eq!(env.browser_runs(), 1, "still no browser");
    let accounts = env.accounts();
    assert_eq!(accounts.len(), 3);
    assert!(accounts
        .iter()
        .filter(|a| a["id"] != holder_id)
        .all(|a| a["grant_holder"] == holder_id));

    // `--separate-sign-in` goes to the browser all the same.
    let (own, _) = login(
        &env,
        &[s.mcp("ts1"), "--separate-sign-in", "--account-name", "own"],
    );
    assert_eq!(env.browser_runs(), 2);
    assert!(own.get("grant_holder").is_none(), "{own}");
}

#[test]
fn through_does_not_go_with_machine_grants() {
    let env = Env::new();
    let out = env
        .cmd()
        .args([
            "login",
            servers().mcp("current"),
            "--through",
            "someone",
            "--grant",
            "client-credentials",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--through shares a person's sign-in"),
        "{stderr}"
    );
    assert!(env.accounts().is_empty());
}
