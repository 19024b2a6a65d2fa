//! `mcpauth proxy` between real stdio clients (the TypeScript SDK's, 1.x on
//! each revision with the handshake and 2.x on 2026-07-28) and real servers
//! of every generation (`tests/servers`: TypeScript SDK 1.x and 2.x, Python
//! `mcp`, Rust `rmcp`, legacy HTTP+SSE), signing in when the server asks.

mod support;

use mcpauth_testkit::servers;
use serde_json::json;
use support::{Check, Env};

const UNICODE_PHRASE: &str = "héllo wörld — 你好, мир 🌍";

fn unicode_text() -> String {
    vec![UNICODE_PHRASE; 2000].join("\n")
}

/// A server of the test servers by name, or why it is not running.
fn server(name: &str) -> String {
    match servers().json["mcp"][name].as_str() {
        Some(url) => url.to_string(),
        None => panic!(
            "the `{name}` test server is not running: {}",
            servers().json["missing"][name]
        ),
    }
}

/// What every server of the table answers the checklist with.
fn assert_checklist(check: &Check, server: &str, legacy_server: bool, modern_client: bool) {
    let tools = check.ok("tools");
    for tool in [
        "echo",
        "elicit",
        "notify_later",
        "progress",
        "sample",
        "slow",
        "unicode",
    ] {
        assert!(
            tools
                .as_array()
                .is_some_and(|t| t.iter().any(|n| n == tool)),
            "{server}: no {tool} in {tools}"
        );
    }
    assert_eq!(check.ok("echo"), "héllo, 世界", "{server}");
    assert_eq!(check.ok("whoami")["sub"], "alice", "{server}");
    assert_eq!(check.ok("resource"), "hello resource", "{server}");
    assert_eq!(check.ok("prompt"), "Hello Ada", "{server}");
    assert_eq!(
        check.ok("elicit"),
        "accept:Ada",
        "{server}: elicitation answered by the client"
    );
    assert_eq!(
        check.ok("sample"),
        "sampled:hi!",
        "{server}: sampling answered by the client"
    );
    let progress = check.ok("progress");
    assert_eq!(progress["result"], "done 3", "{server}");
    assert_eq!(
        progress["progress"],
        json!(["1/3", "2/3", "3/3"]),
        "{server}: {progress}"
    );
    let cancel = check.ok("cancel");
    assert!(
        cancel["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("rejected")),
        "{server}: {cancel}"
    );
    assert!(
        cancel["abortedOnServer"].as_i64() >= Some(1),
        "{server}: the server never learned of the cancellation: {cancel}\n{}",
        check.stderr
    );
    let notify = check.ok("notify");
    assert_eq!(
        notify["toolsChanged"], true,
        "{server}: {notify}\n{}",
        check.stderr
    );
    // A legacy server's log message outside any request reaches a client of
    // its era; a 2026-07-28 client gets logs only for its own requests.
    let logs = usize::from(legacy_server && !modern_client);
    assert_eq!(notify["logs"], logs, "{server}: {notify}");
    assert_eq!(
        check.ok("unicode"),
        &json!({"chars": unicode_text().chars().count(), "intact": true}),
        "{server}: a long non-ASCII text arrives intact"
    );
    if !legacy_server {
        assert_eq!(
            check.ok("route"),
            "routed eu-west 1",
            "{server}: Mcp-Param-Region accepted"
        );
        assert!(
            !tools
                .as_array()
                .is_some_and(|t| t.iter().any(|n| n == "bad_header")),
            "{server}: a tool with an invalid x-mcp-header must be left out: {tools}"
        );
    }
}

/// Every client against one server: the first run signs in (lazily, on the
/// server's first 401), the others reuse the account. `sign_ins`: the first
/// sign-in, plus a step-up where a tool needs a wider scope (`write_note`).
fn every_client_against(name: &str, legacy_server: bool, sign_ins: usize) {
    let env = Env::new();
    let url = server(name);
    for (sdk, version) in [
        ("v1", None),
        ("v1", Some("2025-06-18")),
        ("v1", Some("2025-03-26")),
        ("v2", None),
    ] {
        let check = env.check(sdk, version, None, &[&url]);
        let who = format!("{name} with {sdk} {}", version.unwrap_or("(newest)"));
        assert_checklist(&check, &who, legacy_server, sdk == "v2");
        if let Some(v) = version {
            assert_eq!(
                check.summary["protocol"], v,
                "{who}: the client's revision is kept"
            );
        }
    }
    assert_eq!(
        env.browser_runs(),
        sign_ins,
        "one sign-in (and step-up) for all the runs"
    );
    assert_eq!(env.accounts().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn typescript_sdk_1_server_2025_11_25() {
    every_client_against("ts1", true, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn typescript_sdk_2_server_2026_07_28() {
    every_client_against("ts2", false, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_rmcp_server_2026_07_28() {
    every_client_against("rmcp", false, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn python_mcp_server() {
    every_client_against("py", false, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_http_sse_server_2024_11_05() {
    every_client_against("sse", true, 1);
}
