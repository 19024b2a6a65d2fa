//! The one-shot loopback redirect listener (RFC 8252 §7.3, SPEC §3.6).
//!
//! Binds 127.0.0.1 only, on a port the OS picks unless one is given, answers
//! requests to other paths or with another `state` with 404 and keeps
//! waiting, and closes after the callback or the timeout. The browser learns
//! how the sign-in ended, not only that the answer arrived.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::callback::CallbackParams;
use crate::error::{Error, Result};
use crate::secret::CsrfState;

/// The path the redirect URI uses.
pub const CALLBACK_PATH: &str = "/callback";
const MAX_REQUEST_HEAD: usize = 16 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(10);

const PAGE_HEAD: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>MCP Auth</title>\
<style>body{font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem;text-align:center}</style></head><body>";

/// The page for a request that is not the callback this listener waits for.
const NOT_THIS_PAGE: &str = "<h1>Not found</h1><p>MCP Auth is not waiting for this answer. \
If you started a sign-in, finish it in the browser tab it opened.</p>";

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

    /// Waits for the callback that carries `state`, and closes. Requests to
    /// other paths, or with another `state`, get a 404 and do not end the
    /// wait. The browser's connection is held until [`Callback::answer`] says
    /// how the sign-in ended, so it never reads "Signed in" for a failure.
    pub async fn wait(self, state: &CsrfState, timeout: Duration) -> Result<Callback> {
        let accept_loop = async {
            loop {
                let (stream, _) = self.listener.accept().await.map_err(|e| Error::Loopback {
                    reason: e.to_string(),
                })?;
                if let Some(callback) = handle(stream, state).await {
                    return Ok(callback);
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

/// The authorization response the browser brought, with the browser still
/// waiting for a page.
#[derive(Debug)]
pub struct Callback {
    params: Option<CallbackParams>,
    stream: TcpStream,
}

impl Callback {
    /// The response's parameters (taken once).
    pub fn take_params(&mut self) -> CallbackParams {
        self.params.take().unwrap_or_default()
    }

    /// Shows the browser how the sign-in ended: "Signed in", or the error
    /// (a message MCP Auth wrote, which never holds a secret).
    pub async fn answer(mut self, outcome: std::result::Result<(), String>) {
        let (status, body) = match outcome {
            Ok(()) => (
                "200 OK",
                "<h1>Signed in</h1><p>MCP Auth received the answer. You can close this window.</p>"
                    .to_string(),
            ),
            Err(message) => (
                "400 Bad Request",
                format!(
                    "<h1>Sign-in failed</h1><p>{}</p><p>You can close this window; MCP Auth shows what to do next.</p>",
                    escape_html(&message)
                ),
            ),
        };
        let _ = respond(&mut self.stream, status, &body).await;
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Serves one connection; returns it, unanswered, when it is the callback for `state`.
async fn handle(mut stream: TcpStream, state: &CsrfState) -> Option<Callback> {
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
    let params = (method == "GET" && path == CALLBACK_PATH)
        .then(|| CallbackParams::from_query(query))
        .filter(|p| {
            p.state
                .as_deref()
                .is_some_and(|s| CsrfState::new(s) == *state)
        });
    match params {
        Some(params) => Some(Callback {
            params: Some(params),
            stream,
        }),
        None => {
            let _ = respond(&mut stream, "404 Not Found", NOT_THIS_PAGE).await;
            None
        }
    }
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
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{PAGE_HEAD}{body}</body></html>",
        PAGE_HEAD.len() + body.len() + "</body></html>".len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(uri: impl AsRef<str>) -> String {
        let url = url::Url::parse(uri.as_ref()).expect("url");
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
    async fn receives_only_its_own_callback_and_reports_the_outcome() {
        let listener = LoopbackListener::bind(LoopbackHost::Ip, 0)
            .await
            .expect("bind");
        let uri = listener.redirect_uri().to_string();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"));
        let base = uri.trim_end_matches("/callback").to_string();
        let state = CsrfState::new("the-state");
        let waiter =
            tokio::spawn(async move { listener.wait(&state, Duration::from_secs(5)).await });
        let favicon = get(&format!("{base}/favicon.ico")).await;
        assert!(favicon.starts_with("HTTP/1.1 404"), "{favicon}");
        // A forged answer (another state, or none) is not the one awaited.
        for forged in [
            "?code=c&state=other",
            "?code=c",
            "?error=access_denied&state=x",
        ] {
            let page = get(&format!("{uri}{forged}")).await;
            assert!(page.starts_with("HTTP/1.1 404"), "{forged}: {page}");
            assert!(!page.contains("Signed in"), "{page}");
        }
        assert!(!waiter.is_finished(), "a forged answer ended the wait");
        let browser = tokio::spawn(get(format!(
            "{uri}?code=c&state=the-state&iss=https%3A%2F%2Fas"
        )));
        let mut callback = waiter.await.expect("join").expect("callback");
        let params = callback.take_params();
        assert_eq!(params.state.as_deref(), Some("the-state"));
        assert_eq!(params.iss.as_deref(), Some("https://as"));
        callback.answer(Ok(())).await;
        let page = browser.await.expect("join");
        assert!(page.starts_with("HTTP/1.1 200") && page.contains("close this window"));
        // The listener is gone.
        let port = url::Url::parse(&uri).expect("url").port().expect("port");
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }

    #[tokio::test]
    async fn a_failed_sign_in_shows_an_error_page_not_signed_in() {
        let listener = LoopbackListener::bind(LoopbackHost::Ip, 0)
            .await
            .expect("bind");
        let uri = listener.redirect_uri().to_string();
        let state = CsrfState::new("s");
        let waiter =
            tokio::spawn(async move { listener.wait(&state, Duration::from_secs(5)).await });
        let browser = tokio::spawn(get(format!("{uri}?error=access_denied&state=s")));
        let callback = waiter.await.expect("join").expect("callback");
        callback
            .answer(Err(
                "the authorization server refused: access_denied <b>".into()
            ))
            .await;
        let page = browser.await.expect("join");
        assert!(page.starts_with("HTTP/1.1 400"), "{page}");
        assert!(
            page.contains("Sign-in failed") && !page.contains("Signed in"),
            "{page}"
        );
        assert!(page.contains("access_denied &lt;b&gt;"), "escaped: {page}");
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
            .wait(&CsrfState::new("s"), Duration::from_millis(50))
            .await
            .expect_err("timeout");
        assert!(err.to_string().contains("start the sign-in again"), "{err}");
    }
}
