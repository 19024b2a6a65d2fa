//! The probe's other forms, against mock servers that check the request's
//! form before its token (the real test servers check the token first, so
//! they answer every form with the same 401).

use mcpauth_core::discovery::{probe, ProbeForm};
use mcpauth_testkit::RecordingHttp;
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHALLENGE: &str = r#"Bearer resource_metadata="https://mcp.example/prm", scope="mcp:read""#;

fn url(server: &MockServer) -> url::Url {
    url::Url::parse(&format!("{}/mcp", server.uri())).expect("url")
}

#[tokio::test]
async fn a_2026_07_28_server_that_refuses_initialize_is_asked_with_server_discover() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"method": "initialize"})))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"jsonrpc": "2.0", "id": 0,
            "error": {"code": -32022, "message": "Unsupported protocol version", "data": {"supported": ["2026-07-28"]}}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"method": "server/discover",
            "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}})))
        .and(header("mcp-protocol-version", "2026-07-28"))
        .and(header("mcp-method", "server/discover"))
        .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", CHALLENGE))
        .expect(1)
        .mount(&server)
        .await;
    let answer = probe(&RecordingHttp::new(), &url(&server))
        .await
        .expect("probe");
    assert_eq!((answer.status, answer.form), (401, ProbeForm::Discover));
    assert_eq!(answer.challenges[0].scope.as_deref(), Some("mcp:read"));
}

#[tokio::test]
async fn an_http_sse_server_is_probed_with_a_get_of_its_stream() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(405))
        .expect(2) // initialize, then server/discover
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/mcp"))
        .and(header("accept", "text/event-stream"))
        .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", CHALLENGE))
        .expect(1)
        .mount(&server)
        .await;
    let answer = probe(&RecordingHttp::new(), &url(&server))
        .await
        .expect("probe");
    assert_eq!((answer.status, answer.form), (401, ProbeForm::LegacySse));
}

#[tokio::test]
async fn an_open_http_sse_server_is_found_and_its_endless_stream_not_read() {
    use mcpauth_testkit::raw_http::{listen, read_request, respond, serve_each};
    use tokio::io::AsyncWriteExt;
    let (listener, base) = listen().await;
    serve_each(listener, std::sync::Arc::new(()), |_, socket| async move {
        let (seen, mut socket) = read_request(socket).await?;
        if seen.method == "POST" {
            return respond(&mut socket, 404, &[], b"").await;
        }
        // An event stream that stays open: a probe reading it would hang.
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nevent: endpoint\ndata: /messages?s=1\n\n";
        socket.write_all(head.as_bytes()).await?;
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
        Ok(())
    });
    let url = url::Url::parse(&format!("{base}/sse")).expect("url");
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        probe(&RecordingHttp::new(), &url),
    )
    .await
    .expect("the probe stops at the headers")
    .expect("probe");
    assert_eq!((answer.status, answer.form), (200, ProbeForm::LegacySse));
}

#[tokio::test]
async fn something_that_is_no_mcp_server_keeps_its_first_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>a web page</html>"))
        .mount(&server)
        .await;
    let answer = probe(&RecordingHttp::new(), &url(&server))
        .await
        .expect("probe");
    assert_eq!((answer.status, answer.form), (404, ProbeForm::Initialize));
}
