//! A TCP relay in front of a real server that plays the network failing: it
//! passes bytes both ways unchanged until told to drop a connection in the
//! middle of an answer (a reset, as a dropped network gives the client), and
//! can stay down for a while: then every connection goes, the idle ones a
//! client keeps for its next request too, and every new one is reset at once.
//!
//! The server behind it is a real one; only the network is made to fail.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::raw_http::lock;

#[derive(Default)]
struct State {
    /// Drop the next answer whose bytes contain this, after the event holding it.
    cut_on: Option<Vec<u8>>,
    /// After that cut, refuse every new connection until [`Relay::restore`].
    stay_down: bool,
    down: bool,
    cuts: usize,
    refused: usize,
}

struct Shared {
    upstream: SocketAddr,
    state: Mutex<State>,
    /// Bumped when the network goes down: every open connection drops.
    outage: tokio::sync::watch::Sender<u64>,
}

/// A running relay on 127.0.0.1; it stops with the test's runtime.
#[derive(Clone)]
pub struct Relay {
    shared: Arc<Shared>,
    origin: String,
    upstream_origin: String,
}

impl Relay {
    /// Starts a relay to the origin of `upstream_url` (`http://127.0.0.1:P/...`).
    pub async fn start(upstream_url: &str) -> Relay {
        let url = url::Url::parse(upstream_url).expect("upstream URL");
        let upstream = url
            .socket_addrs(|| None)
            .expect("upstream address")
            .into_iter()
            .next()
            .expect("an upstream address");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(State::default()),
            outage: tokio::sync::watch::Sender::new(0),
        });
        let accepting = shared.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(accepting.clone(), client));
            }
        });
        Relay {
            shared,
            origin,
            upstream_origin: url.origin().ascii_serialization(),
        }
    }

    /// `url` of the server behind, reached through the relay.
    pub fn url(&self, url: &str) -> String {
        url.replacen(&self.upstream_origin, &self.origin, 1)
    }

    /// Drops the next answer that carries `marker` right after the event (the
    /// blank line) holding it; with `stay_down`, the network then goes down
    /// until [`Relay::restore`]: every open connection drops (a client's idle
    /// keep-alive ones too) and every new one is reset.
    pub fn cut_after(&self, marker: &str, stay_down: bool) {
        let mut state = lock(&self.shared.state);
        state.cut_on = Some(marker.as_bytes().to_vec());
        state.stay_down = stay_down;
    }

    /// The network is back: new connections pass again.
    pub fn restore(&self) {
        lock(&self.shared.state).down = false;
    }

    /// How many answers were dropped, and how many connections refused while down.
    pub fn faults(&self) -> (usize, usize) {
        let state = lock(&self.shared.state);
        (state.cuts, state.refused)
    }
}

async fn relay(shared: Arc<Shared>, client: TcpStream) {
    // Before the check below, so that an outage after it is still seen.
    let mut outage = shared.outage.subscribe();
    {
        let mut state = lock(&shared.state);
        if state.down {
            state.refused += 1;
            drop(state);
            reset(&client);
            return;
        }
    }
    let Ok(server) = TcpStream::connect(shared.upstream).await else {
        reset(&client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    // A second handle on the client's socket, to reset it from here while the
    // halves are busy.
    let Ok((control, client)) = two_handles(client) else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upward = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    // Downward, watching for the marker across reads.
    let mut seen: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = server_read.read(&mut buf) => read,
            _ = outage.changed() => {
                drop_now(&control, client_write, upward).await;
                return;
            }
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        // Bytes of this chunk to pass before a drop, and whether the network goes down.
        let cut_at = {
            let mut state = lock(&shared.state);
            let found = state.cut_on.as_ref().and_then(|marker| {
                // Search what is held from earlier reads plus this one.
                let start = seen.len();
                seen.extend_from_slice(chunk);
                let at = find(&seen, marker)?;
                let event_end = find(&seen[at..], b"\n\n").map(|e| at + e + 2);
                // Bytes of this chunk to pass before the drop.
                Some(event_end.unwrap_or(at + marker.len()).max(start) - start)
            });
            if found.is_some() {
                state.cut_on = None;
                state.cuts += 1;
                state.down = state.stay_down;
            }
            found.map(|pass| (pass, state.down))
        };
        if let Some((pass, down)) = cut_at {
            let _ = client_write.write_all(&chunk[..pass.min(n)]).await;
            let _ = client_write.flush().await;
            if down {
                shared.outage.send_modify(|n| *n += 1);
            }
            drop_now(&control, client_write, upward).await;
            return;
        }
        if client_write.write_all(chunk).await.is_err() {
            break;
        }
        // Keep only what a marker split across reads could need.
        let keep = 4096.min(seen.len());
        seen.drain(..seen.len() - keep);
    }
    let _ = client_write.shutdown().await;
    let _ = upward.await;
}

/// Resets the client's connection: every handle on its socket goes, with no
/// orderly shutdown first (a dropped write half would send one); the last one
/// resets it.
async fn drop_now(
    control: &TcpStream,
    client_write: tokio::net::tcp::OwnedWriteHalf,
    upward: tokio::task::JoinHandle<()>,
) {
    reset(control);
    client_write.forget();
    upward.abort();
    let _ = upward.await;
}

/// Makes the socket's close a reset, not an orderly close: what the client
/// sees when the network drops. It takes effect when its last handle goes.
fn reset(socket: &TcpStream) {
    let _ = socket.set_zero_linger();
}

fn two_handles(socket: TcpStream) -> std::io::Result<(TcpStream, TcpStream)> {
    let socket = socket.into_std()?;
    let control = socket.try_clone()?;
    Ok((TcpStream::from_std(control)?, TcpStream::from_std(socket)?))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
