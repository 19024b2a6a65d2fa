//! The stdio side: newline-delimited JSON-RPC from the client, bounded in
//! length, and one writer so that messages never interleave on stdout.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::scrub::Scrubber;

/// One line from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    /// The line was longer than the limit; it was read to its end and dropped.
    TooLong,
    /// The line was not UTF-8.
    NotText,
}

/// Reads the next line (without its `\n` or `\r\n`); `None` at end of input.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> std::io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            if line.is_empty() && !too_long {
                return Ok(None);
            }
            break;
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(end) => (&available[..end], Some(end + 1)),
            None => (available, None),
        };
        if !too_long {
            if line.len() + chunk.len() > limit {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let consumed = done.unwrap_or(available.len());
        reader.consume(consumed);
        if done.is_some() {
            break;
        }
    }
    if too_long {
        return Ok(Some(Line::TooLong));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(match String::from_utf8(line) {
        Ok(text) => Line::Text(text),
        Err(_) => Line::NotText,
    }))
}

/// Where messages for the client go; cheap to clone.
#[derive(Clone)]
pub struct ClientOut {
    tx: mpsc::UnboundedSender<String>,
    scrubber: Scrubber,
}

impl ClientOut {
    /// Sends one message, with every token the proxy used scrubbed out of it.
    pub fn send(&self, message: &serde_json::Value) {
        let text = message.to_string();
        let _ = self.tx.send(self.scrubber.scrub(&text).into_owned());
    }

    /// True once the writer has stopped (stdout closed).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Starts the writer task; it ends when every [`ClientOut`] is dropped or stdout fails.
pub fn writer<W: AsyncWrite + Unpin + Send + 'static>(
    mut out: W,
    scrubber: Scrubber,
) -> (ClientOut, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let task = tokio::spawn(async move {
        while let Some(mut line) = rx.recv().await {
            // One write per message: a client that reads two messages in one
            // chunk may handle them out of order (the TypeScript SDK runs
            // notification handlers a microtask after answers).
            line.push('\n');
            if out.write_all(line.as_bytes()).await.is_err() || out.flush().await.is_err() {
                break;
            }
        }
        rx.close();
    });
    (ClientOut { tx, scrubber }, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_bounded_and_checked() {
        let input: &[u8] = b"{\"a\":1}\r\n0123456789abcdef\n\xff\xfe\nlast";
        let mut reader = tokio::io::BufReader::with_capacity(4, input);
        let mut got = Vec::new();
        while let Some(line) = read_line(&mut reader, 10).await.expect("read") {
            got.push(line);
        }
        assert_eq!(
            got,
            [
                Line::Text("{\"a\":1}".into()),
                Line::TooLong,
                Line::NotText,
                Line::Text("last".into())
            ]
        );
    }

    #[tokio::test]
    async fn the_writer_keeps_order_and_scrubs() {
        let (reader, writer_end) = tokio::io::duplex(1 << 16);
        let scrubber = Scrubber::default();
        scrubber.remember("secret-token-123");
        let (out, task) = writer(writer_end, scrubber);
        for i in 0..100 {
            out.send(&serde_json::json!({"n": i, "t": "secret-token-123"}));
        }
        drop(out);
        task.await.expect("writer");
        let mut text = String::new();
        let mut reader = tokio::io::BufReader::new(reader);
        tokio::io::AsyncReadExt::read_to_string(&mut reader, &mut text)
            .await
            .expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 100);
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(*line, format!("{{\"n\":{i},\"t\":\"[redacted]\"}}"));
        }
    }
}
