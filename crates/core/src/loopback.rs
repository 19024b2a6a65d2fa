//! The one-shot loopback redirect listener (RFC 8252 §7.3, SPEC §3.6).
//!
//! Binds 127.0.0.1 only, on a port the OS picks unless one is given, answers
//! requests to other paths with 404 and keeps waiting, and closes after the
//! callback or the timeout.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::callback::CallbackParams;
use crate::error::{Error, Result};

/// The path the redirect URI uses.
pub const CALLBACK_PATH: &str = "/callback";
const MAX_REQUEST_HEAD: usize = 16 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(10);

const DONE_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>MCP Auth</title>\
<style>body{font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem;text-align:center}</style></head>\
<body><h1>Signed in</h1><p>MCP Auth received the answer. You can close this window.</p></body></html>";

/// Which loopback name the redirect URI uses; the socket is 127.0.0.1 either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoopbackHost {
    #[default]
    Ip,
    Localhost,
}

/// A bound listener waiting for one authorization response.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: String,
}

impl LoopbackListener {
    /// Binds 127.0.0.1 on `port` (0 = any free port).
    pub async fn bind(host: LoopbackHost, port: u16) -> Result<Self> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = TcpListener::bind(addr).await.map_err(|e| Error::Loopback {
            reason: if e.kind() == std::io::ErrorKind::AddrInUse {
                format!("port {port} on 127.0.0.1 is already in use; choose another port or let MCP Auth pick one")
            } else {
                format!("cannot listen on 127.0.0.1:{port}: {e}")
            },
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Loopback {
                reason: e.to_string(),
            })?
            .port();
        let name = match host {
            LoopbackHost::Ip => "127.0.0.1",
            LoopbackHost::Localhost => "localhost",
        };
        Ok(Self {
            listener,
            redirect_uri: format!("http://{name}:{port}{CALLBACK_PATH}"),
        })
    }

    /// The redirect URI to register and send.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the callback, answers the browser, and closes.
    pub async fn wait(self, timeout: Duration) -> Result<CallbackParams> {
        let accept_loop = async {
            loop {
                let (stream, _) = self.listener.accept().await.map_err(|e| Error::Loopback {
                    reason: e.to_string(),
                })?;
                if let Some(params) = handle(stream).await {
                    return Ok(params);
                }
            }
        };
        tokio::time::timeout(timeout, accept_loop)
            .await
            .map_err(|_| Error::Loopback {
                reason: format!(
                    "no answer from the browser within {} s; start the sign-in again",
                    timeout.as_secs()
                ),
            })?
    }
}

/// Serves one connection; returns the parameters when it was the callback.
async fn handle(mut stream: TcpStream) -> Option<CallbackParams> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return None,
    };
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" || path != CALLBACK_PATH {
        let _ = respond(&mut stream, "404 Not Found", "Not found").await;
        return None;
    }
    let _ = respond(&mut stream, "200 OK", DONE_PAGE).await;
    Some(CallbackParams::from_query(query))
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return String::from_utf8(buf).ok();
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return None;
        }
    }
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(uri: &str) -> String {
        let url = url::Url::parse(uri).expect("url");
        let port = url.port().expect("port");
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn receives_one_callback_and_closes() {
        let listener = LoopbackListener::bind(LoopbackHost::Ip, 0)
            .await
            .expect("bind");
        let uri = listener.redirect_uri().to_string();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"));
        let base = uri.trim_end_matches("/callback").to_string();
        let waiter = tokio::spawn(listener.wait(Duration::from_secs(5)));
        let favicon = get(&format!("{base}/favicon.ico")).await;
        assert!(favicon.starts_with("HTTP/1.1 404"));
        let page = get(&format!("{uri}?code=c&state=s&iss=https%3A%2F%2Fas")).await;
        assert!(page.starts_with("HTTP/1.1 200") && page.contains("close this window"));
        let params = waiter.await.expect("join").expect("callback");
        assert_eq!(params.state.as_deref(), Some("s"));
        assert_eq!(params.iss.as_deref(), Some("https://as"));
        // The listener is gone.
        let port = url::Url::parse(&uri).expect("url").port().expect("port");
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }

    #[tokio::test]
    async fn times_out_and_reports_busy_ports() {
        let listener = LoopbackListener::bind(LoopbackHost::Localhost, 0)
            .await
            .expect("bind");
        assert!(listener.redirect_uri().starts_with("http://localhost:"));
        let port = url::Url::parse(listener.redirect_uri())
            .expect("url")
            .port()
            .expect("port");
        let busy = LoopbackListener::bind(LoopbackHost::Ip, port)
            .await
            .expect_err("in use");
        assert!(busy.to_string().contains("already in use"), "{busy}");
        let err = listener
            .wait(Duration::from_millis(50))
            .await
            .expect_err("timeout");
        assert!(err.to_string().contains("start the sign-in again"), "{err}");
    }
}
