//! HTTP/1.1 by hand over a TCP socket, for the mock servers: they must send
//! what a well-behaved HTTP library would not (a body cut at a chosen byte,
//! endless or silent answers). One request per connection (`Connection: close`).

use std::time::Duration;

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A mutex, whether or not a holder panicked (a failed test must not hide behind another).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A listener on 127.0.0.1 (any port) and its `http://127.0.0.1:<port>`.
pub async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, base)
}

/// Serves every connection on its own task with `serve`, for as long as the
/// test's runtime lives.
pub fn serve_each<S, F, Fut>(listener: TcpListener, shared: Arc<S>, serve: F)
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(shared.clone(), socket));
        }
    });
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    /// The whole request as text, for "was this secret sent?" checks.
    pub fn text(&self) -> String {
        let headers: String = self
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect();
        format!("{} {}\n{headers}\n{}", self.method, self.target, self.body)
    }

    /// A header's value, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// Reads one request (body by `Content-Length`, at most 1 MiB).
pub async fn read_request(socket: TcpStream) -> std::io::Result<(Seen, TcpStream)> {
    let mut reader = BufReader::new(socket);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await?;
    let seen = Seen {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    Ok((seen, reader.into_inner()))
}

/// A whole answer (JSON unless the headers say otherwise), then close.
pub async fn respond(
    socket: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} X\r\n");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    ));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body).await?;
    socket.shutdown().await
}

/// An event stream sent in the pieces given, each written and flushed on its
/// own with a pause between, so the client reads them as separate chunks.
pub async fn respond_in_pieces(
    socket: &mut TcpStream,
    headers: &[(&str, &str)],
    pieces: &[Vec<u8>],
    pause: Duration,
) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let mut head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n".to_string();
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await?;
    socket.flush().await?;
    for piece in pieces {
        socket.write_all(piece).await?;
        socket.flush().await?;
        tokio::time::sleep(pause).await;
    }
    socket.shutdown().await
}
