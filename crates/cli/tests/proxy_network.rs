//! `mcpauth proxy` when the network drops in the middle of an SSE answer:
//! the real SDK 1.x server (`open`, with an event store) behind a relay that
//! resets the connection right after a chosen event. The proxy resumes where
//! the server allows it; when the network stays down it answers that call
//! with an error; either way the client's session goes on.

mod support;

use mcpauth_testkit::relay::Relay;
use mcpauth_testkit::Servers;
use serde_json::{json, Value};
use support::{header, Env, RawProxy};

fn progress_call(id: u64, steps: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "progress", "arguments": {"steps": steps},
        "_meta": {"progressToken": format!("call-{id}")}}})
}

fn echo(id: u64, text: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": text}}})
}

async fn initialized_proxy(env: &Env, url: &str) -> RawProxy {
    let mut proxy = env.raw_proxy(&[url]).await;
    let init = proxy
        .call(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "network-test-client", "version": "1"}}}),
        )
        .await;
    assert!(init.get("result").is_some(), "initialize: {init}");
    proxy
        .send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    proxy
}

/// This test's own servers, a relay in front of `open`, and a proxy through it.
async fn through_a_relay() -> (Servers, Relay, Env, RawProxy) {
    let servers = Servers::start(&[]);
    let open = servers.mcp("open").to_string();
    let relay = Relay::start(&open).await;
    let env = Env::new();
    let proxy = initialized_proxy(&env, &relay.url(&open)).await;
    (servers, relay, env, proxy)
}

/// Reads until the answer to `id`; the progress values that came before it.
async fn answer_with_progress(proxy: &mut RawProxy, id: u64) -> (Value, Vec<i64>) {
    let mut progress = Vec::new();
    loop {
        let message = proxy.recv().await;
        if message["method"] == "notifications/progress" {
            assert_eq!(
                message["params"]["progressToken"],
                format!("call-{id}"),
                "{message}"
            );
            progress.push(message["params"]["progress"].as_i64().expect("progress"));
        } else if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
            return (message, progress);
        }
    }
}

/// One session from start to end, opened by one `initialize`: the client
/// never had to start again. (The proxy's first `server/discover` probe,
/// which this 2025 server refuses, names its method in `Mcp-Method`.)
fn assert_one_session(requests: &[Value]) {
    let sessions: std::collections::BTreeSet<&str> = requests
        .iter()
        .filter_map(|r| header(r, "mcp-session-id"))
        .collect();
    assert_eq!(sessions.len(), 1, "one session throughout: {requests:?}");
    let initializations = requests
        .iter()
        .filter(|r| {
            r["method"] == "POST"
                && header(r, "mcp-session-id").is_none()
                && header(r, "mcp-method").is_none()
        })
        .count();
    assert_eq!(initializations, 1, "initialized once: {requests:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_dropped_by_the_network_is_resumed_where_the_server_left_it() {
    let (servers, relay, _env, mut proxy) = through_a_relay().await;

    relay.cut_after("\"progress\":2", false);
    proxy.send(&progress_call(1, 5)).await;
    let (answer, progress) = answer_with_progress(&mut proxy, 1).await;
    assert_eq!(
        answer["result"]["content"][0]["text"], "done 5",
        "the call's answer arrived after the drop: {answer}"
    );
    assert_eq!(relay.faults().0, 1, "the answer's connection was dropped");
    assert_eq!(
        progress,
        vec![1, 2, 3, 4, 5],
        "every event exactly once: none lost at the drop, none replayed twice"
    );

    // The session goes on: the next call needs no new handshake.
    let next = proxy.call(echo(2, "still here")).await;
    assert_eq!(next["result"]["content"][0]["text"], "still here", "{next}");
    let stderr = proxy.finish().await;

    let requests = support::requests_to(&servers, "open").await;
    let resumed: Vec<&Value> = requests
        .iter()
        .filter(|r| r["method"] == "GET" && header(r, "last-event-id").is_some())
        .collect();
    assert_eq!(
        resumed.len(),
        1,
        "one resumption with Last-Event-ID: {requests:?}\n{stderr}"
    );
    assert_one_session(&requests);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_network_that_stays_down_fails_that_call_alone_and_the_session_goes_on() {
    let (servers, relay, _env, mut proxy) = through_a_relay().await;

    relay.cut_after("\"progress\":2", true);
    proxy.send(&progress_call(1, 5)).await;
    let (answer, _) = answer_with_progress(&mut proxy, 1).await;
    let message = answer["error"]["message"].as_str().unwrap_or_else(|| {
        panic!("the call is answered with a JSON-RPC error while the network is down: {answer}")
    });
    eprintln!("the call's error while the network was down: {message}");
    assert!(
        message.contains("reconnect"),
        "the error says the stream was lost and could not be resumed: {message}"
    );
    let (cuts, refused) = relay.faults();
    assert_eq!(cuts, 1);
    assert!(
        refused >= 1,
        "the proxy tried to resume while the network was down"
    );

    // The network is back: the same session serves the next call.
    relay.restore();
    let next = proxy.call(echo(2, "back again")).await;
    assert_eq!(next["result"]["content"][0]["text"], "back again", "{next}");
    let stderr = proxy.finish().await;
    eprintln!("the proxy's log:\n{stderr}");

    let requests = support::requests_to(&servers, "open").await;
    assert_one_session(&requests);
}
