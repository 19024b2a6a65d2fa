//! `mcpauth proxy` where the way is not smooth: servers that ask for a token
//! late or never, a session the server forgets, a stream it closes early, an
//! event stream cut inside characters, error pages that quote the token, a
//! server that refuses every token; and machine accounts and batches.

mod support;

use mcpauth_testkit::mcp_mock::{McpMock, Misbehaviour};
use mcpauth_testkit::{servers, Servers};
use serde_json::{json, Value};
use support::{header, initialize, Env};

fn call(id: u64, tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": {}}})
}

const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// Lets a mock server ask the real authorization server for tokens.
async fn make_resource(servers: &Servers, url: &str) {
    let answer = reqwest::Client::new()
        .post(format!("{}/__test/resources", servers.issuer()))
        .json(&json!({"resource": url}))
        .send()
        .await
        .expect("POST /__test/resources");
    assert!(answer.status().is_success(), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_asks_only_on_tools_call_gets_a_token_then_and_a_step_up() {
    let env = Env::new();
    let lazy = servers().mcp("lazy").to_string();
    let listed = env.check("v1", None, Some("tools,resource,prompt"), &[&lazy]);
    assert!(listed.ok("tools").as_array().is_some_and(|t| !t.is_empty()));
    assert_eq!(listed.ok("resource"), "hello resource");
    assert_eq!(env.browser_runs(), 0, "no sign-in before the server asks");
    assert!(
        env.accounts().is_empty(),
        "no account before the server asks"
    );

    let called = env.check("v1", None, Some("echo,write_note"), &[&lazy]);
    assert_eq!(
        called.ok("echo"),
        "héllo, 世界",
        "signed in on the 401 of tools/call, then sent again"
    );
    assert_eq!(
        called.ok("write_note"),
        "saved",
        "stepped up to mcp:write on its 403"
    );
    assert_eq!(
        env.browser_runs(),
        2,
        "the sign-in and the step-up:\n{}",
        called.stderr
    );
    let accounts = env.accounts();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["granted_scopes"], "mcp:read mcp:write");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_asks_is_proxied_without_a_token_or_an_account() {
    let env = Env::new();
    let open = servers().mcp("open").to_string();
    for sdk in ["v1", "v2"] {
        let check = env.check(
            sdk,
            None,
            Some("tools,echo,resource,prompt,elicit,sample,progress,notify"),
            &[&open],
        );
        assert_eq!(check.ok("echo"), "héllo, 世界", "{sdk}");
        assert_eq!(check.ok("elicit"), "accept:Ada", "{sdk}");
        assert_eq!(check.ok("notify")["toolsChanged"], true, "{sdk}");
    }
    assert_eq!(env.browser_runs(), 0);
    assert!(env.accounts().is_empty());
}

/// A private instance of the servers: its request log holds this test's requests only.
#[tokio::test(flavor = "multi_thread")]
async fn a_forgotten_session_and_a_stream_closed_early_cost_the_client_nothing() {
    let servers = Servers::start(&[]);
    let env = Env::new();
    let ts1 = servers.mcp("ts1").to_string();
    let expire = ts1.replace("/ts1/mcp", "/ts1/__test/expire-sessions");
    let check = env.check_with(
        "v1",
        None,
        Some("echo,session,poll"),
        &[&ts1],
        &[("MCPAUTH_TEST_EXPIRE_URL", &expire)],
    );
    let session = check.ok("session");
    assert_eq!(session["before"], "before");
    assert!(session["expired"].as_i64() >= Some(1), "{session}");
    assert_eq!(
        session["after"], "after",
        "re-initialized and sent again: {session}"
    );
    assert!(
        check
            .stderr
            .contains("ended the session; starting a new one"),
        "{}",
        check.stderr
    );
    assert_eq!(
        check.ok("poll"),
        "after reconnect",
        "resumed after the server closed the stream"
    );

    let ts1_requests = support::requests_to(&servers, "ts1").await;
    for r in &ts1_requests {
        assert!(
            header(r, "mcp-protocol-version").is_some(),
            "MCP-Protocol-Version on every request: {r}"
        );
    }
    assert!(
        ts1_requests
            .iter()
            .any(|r| r["method"] == "GET" && header(r, "last-event-id").is_some()),
        "the closed stream was resumed with Last-Event-ID: {ts1_requests:?}"
    );
    let sessions: std::collections::BTreeSet<&str> = ts1_requests
        .iter()
        .filter_map(|r| header(r, "mcp-session-id"))
        .collect();
    assert_eq!(
        sessions.len(),
        2,
        "a second session after the first was forgotten"
    );
    let last = ts1_requests.last().expect("requests");
    assert_eq!(
        last["method"], "DELETE",
        "the session ends with DELETE: {last}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_cut_inside_its_characters_arrives_whole() {
    let mock = McpMock::start(Misbehaviour::SplitStream { piece: 5 }, None).await;
    let env = Env::new();
    let mut proxy = env.raw_proxy(&[&mock.url()]).await;
    let init = proxy.call(initialize(1, "2025-11-25")).await;
    assert_eq!(
        init["result"]["serverInfo"]["name"], "mcpauth-mock",
        "{init}"
    );
    proxy
        .send(&serde_json::from_str(INITIALIZED).expect("json"))
        .await;
    let answer = proxy.call(call(2, "unicode")).await;
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    let expected = McpMock::split_text();
    let first_difference = text.chars().zip(expected.chars()).position(|(a, b)| a != b);
    assert!(
        text == expected,
        "cut every 5 bytes, CR and CRLF line ends: {} characters, first difference at {first_difference:?}: {:?}",
        text.chars().count(),
        text.chars().skip(first_difference.unwrap_or(0)).take(40).collect::<String>()
    );
    proxy.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_page_that_quotes_the_token_reaches_neither_the_client_nor_the_log() {
    let mock = McpMock::start(Misbehaviour::EchoAuthorization, Some(servers().issuer())).await;
    make_resource(servers(), &mock.url()).await;
    let env = Env::new();
    let mut proxy = env.raw_proxy(&[&mock.url()]).await;
    let init = proxy.call(initialize(1, "2025-11-25")).await;
    assert!(init.get("result").is_some(), "{init}");
    proxy
        .send(&serde_json::from_str(INITIALIZED).expect("json"))
        .await;
    let page = proxy.call(call(2, "page")).await;
    let rpc = proxy.call(call(3, "echo_rpc")).await;
    let stderr = proxy.finish().await;
    let token = env.token(env.only_account()["id"].as_str().expect("id"));
    assert!(
        mock.seen().iter().any(|s| s.text().contains(&token)),
        "the server did receive the token (so hiding it is the proxy's doing)"
    );
    for (what, text) in [
        (
            "the answer to the call of an HTML error page",
            page.to_string(),
        ),
        ("a JSON-RPC error quoting it", rpc.to_string()),
        ("the proxy's stderr", stderr.clone()),
    ] {
        assert!(!text.contains(&token), "the token is in {what}: {text}");
    }
    assert!(
        page["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("502") && m.contains("[redacted]")),
        "{page}"
    );
    assert!(
        rpc["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Bearer [redacted]")),
        "the server's own error is passed on, scrubbed: {rpc}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_refuses_every_token_opens_the_browser_once() {
    let mock = McpMock::start(Misbehaviour::AlwaysUnauthorized, Some(servers().issuer())).await;
    make_resource(servers(), &mock.url()).await;
    let env = Env::new();
    let mut proxy = env.raw_proxy(&[&mock.url()]).await;
    let first = proxy.call(initialize(1, "2025-11-25")).await;
    let message = first["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("still refuses the token of a new sign-in"),
        "{first}"
    );
    assert_eq!(env.browser_runs(), 1);
    for id in 2..5 {
        let again = proxy.call(initialize(id, "2025-11-25")).await;
        let message = again["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("not opening the browser again"), "{again}");
        assert!(
            message.contains("mcpauth login"),
            "says what to do: {again}"
        );
    }
    assert_eq!(env.browser_runs(), 1, "once, not once per message");
    proxy.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_account_is_made_on_the_first_401_and_reused() {
    let env = Env::new();
    let ts1 = servers().mcp("ts1").to_string();
    let secret = env.home.join("secret");
    std::fs::write(&secret, servers().client_str("basic", "client_secret")).expect("secret");
    let args = [
        ts1.as_str(),
        "--grant",
        "client-credentials",
        "--client-id",
        "mcpauth-basic",
        "--client-secret-file",
        secret.to_str().expect("path"),
    ];
    for _ in 0..2 {
        let check = env.check("v1", None, Some("whoami,echo"), &args);
        assert_eq!(check.ok("whoami")["client_id"], "mcpauth-basic");
        assert_eq!(check.ok("echo"), "héllo, 世界");
    }
    let accounts = env.accounts();
    assert_eq!(accounts.len(), 1, "made once, then reused: {accounts:?}");
    assert_eq!(accounts[0]["kind"], "machine");
    assert_eq!(env.browser_runs(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_2025_03_26_batch_is_answered_together_by_a_2026_server() {
    let env = Env::new();
    let mut proxy = env.raw_proxy(&[servers().mcp("ts2")]).await;
    let init = proxy.call(initialize(1, "2025-03-26")).await;
    assert_eq!(init["result"]["protocolVersion"], "2025-03-26", "{init}");
    proxy
        .send(&serde_json::from_str(INITIALIZED).expect("json"))
        .await;
    proxy
        .send(&json!([
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "x", "progress": 1}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "in a batch"}}},
        ]))
        .await;
    let answers = proxy.recv().await;
    let answers = answers
        .as_array()
        .unwrap_or_else(|| panic!("one array: {answers}"));
    assert_eq!(answers.len(), 2, "{answers:?}");
    let by_id = |id: u64| {
        answers
            .iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("{id}: {answers:?}"))
    };
    assert!(by_id(2)["result"]["tools"]
        .as_array()
        .is_some_and(|t| !t.is_empty()));
    assert_eq!(by_id(3)["result"]["content"][0]["text"], "in a batch");
    assert!(
        by_id(3)["result"].get("resultType").is_none(),
        "no 2026-07-28 fields for a 2025 client"
    );
    proxy.finish().await;
}

/// A 2026-07-28 client's open subscription does not keep the proxy alive
/// once the client closes stdin; against a legacy server the emulated one
/// ends with its final result.
#[tokio::test(flavor = "multi_thread")]
async fn open_subscriptions_end_when_the_client_goes() {
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    for server in ["ts2", "ts1"] {
        let env = Env::new();
        let mut proxy = env.raw_proxy(&[servers().mcp(server)]).await;
        let discover = proxy
            .call(json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}}))
            .await;
        assert!(
            discover["result"]["supportedVersions"].is_array(),
            "{server}: {discover}"
        );
        proxy
            .send(
                &json!({"jsonrpc": "2.0", "id": 2, "method": "subscriptions/listen",
                          "params": {"_meta": meta, "notifications": {"toolsListChanged": true}}}),
            )
            .await;
        let ack = proxy.recv().await;
        assert_eq!(
            ack["method"], "notifications/subscriptions/acknowledged",
            "{server}: {ack}"
        );
        assert_eq!(
            ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 2,
            "{server}: {ack}"
        );
        assert_eq!(
            ack["params"]["notifications"]["toolsListChanged"], true,
            "{server}: {ack}"
        );
        let started = std::time::Instant::now();
        let stderr = proxy.finish().await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "{server}: {stderr}"
        );
    }
}

/// A 2026-07-28 client that calls a tool it never listed: the proxy sends no
/// `Mcp-Param-*` header for it, the server refuses (HTTP 400, -32020), and the
/// proxy lists the tools and sends the call again with the header.
#[tokio::test(flavor = "multi_thread")]
async fn a_call_refused_for_its_headers_is_sent_again_with_them() {
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    for server in ["ts2", "rmcp"] {
        let env = Env::new();
        let mut proxy = env.raw_proxy(&[servers().mcp(server)]).await;
        let answer = proxy
            .call(
                json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "route", "arguments": {"region": "eu-north"}, "_meta": meta}}),
            )
            .await;
        assert_eq!(
            answer["result"]["content"][0]["text"], "routed eu-north",
            "{server}: {answer}"
        );
        proxy.finish().await;
    }
}

/// An endpoint that moved (a 308 to the same origin, as a server does for a
/// path it renamed or a trailing slash it wants): the proxy follows it with
/// the same request and sends everything after straight to the new URL.
#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_moved_with_a_308_is_followed_once_and_kept() {
    let mock = McpMock::start(Misbehaviour::Moved, None).await;
    let env = Env::new();
    let mut proxy = env.raw_proxy(&[&mock.old_url()]).await;
    let init = proxy.call(initialize(1, "2025-11-25")).await;
    assert_eq!(
        init["result"]["serverInfo"]["name"], "mcpauth-mock",
        "{init}"
    );
    proxy
        .send(&serde_json::from_str(INITIALIZED).expect("json"))
        .await;
    let listed = proxy
        .call(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    assert!(listed["result"]["tools"].is_array(), "{listed}");
    proxy.finish().await;
    let seen: Vec<(String, String)> = mock
        .seen()
        .iter()
        .map(|s| (s.method.clone(), s.path().to_string()))
        .collect();
    let to_old = seen.iter().filter(|(_, p)| p == "/old/mcp").count();
    assert_eq!(
        to_old, 1,
        "only the first request met the redirect: {seen:?}"
    );
    let posts = seen
        .iter()
        .filter(|(m, p)| m == "POST" && p == "/mcp")
        .count();
    assert!(
        posts >= 3,
        "initialize, initialized, tools/list at the new URL: {seen:?}"
    );
}

/// A legacy server that sends its own request outside the call (the
/// conformance suite's 2025-11-25 server elicits this way) puts it on the GET
/// stream and drops it when that stream is not open yet. The server here
/// answers the GET 500 ms late, as a loaded one does; a client that calls at
/// once still gets the elicitation, because the proxy holds requests until
/// the GET stream is open, and the call completes with the client's answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_the_server_sends_on_its_get_stream_is_not_lost() {
    let env = Env::new();
    let mut proxy = env.raw_proxy(&[servers().mcp("open")]).await;
    let mut hello = initialize(1, "2025-11-25");
    hello["params"]["clientInfo"]["name"] = json!("slow-get-stream");
    hello["params"]["capabilities"] = json!({"elicitation": {"form": {}}});
    let init = proxy.call(hello).await;
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25", "{init}");
    // initialized and the call back to back, as an SDK client sends them.
    proxy
        .send(&serde_json::from_str(INITIALIZED).expect("json"))
        .await;
    proxy.send(&call(2, "elicit_outside")).await;
    let asked = loop {
        let message = proxy.recv().await;
        if message["method"] == "elicitation/create" {
            break message;
        }
        assert!(
            message.get("id") != Some(&json!(2)),
            "the call ended without its elicitation reaching the client: {message}"
        );
    };
    assert_eq!(asked["params"]["message"], "Your name?", "{asked}");
    proxy
        .send(&json!({"jsonrpc": "2.0", "id": asked["id"],
                      "result": {"action": "accept", "content": {"name": "Ada"}}}))
        .await;
    let answer = loop {
        let message = proxy.recv().await;
        if message.get("id") == Some(&json!(2)) {
            break message;
        }
    };
    assert_eq!(
        answer["result"]["content"][0]["text"], "accept:Ada",
        "{answer}"
    );
    proxy.finish().await;
}
