//! Server-sent events, decoded as the HTML standard's "event stream
//! interpretation" says: bytes are split into lines first (at CR, LF or CRLF,
//! wherever the network happened to cut them), and only whole lines are
//! decoded as UTF-8, so a character split across chunks arrives intact.
//!
//! Ours rather than a crate's: `eventsource-stream` loses the `id` and
//! `retry` of blocks that carry no data (SEP-1699's priming event may be
//! exactly that) and buffers without bound on invalid UTF-8; `sse-stream`
//! refuses valid streams (a repeated field, a field line without a colon).
//! Both matter to resumption, and a server must not be able to make the
//! proxy buffer without limit.

use std::time::Duration;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event type (`message` when the stream named none).
    pub event: String,
    pub data: String,
}

/// An event grew beyond the limit before it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    pub limit: usize,
}

/// The decoder's state between chunks.
#[derive(Debug)]
pub struct Decoder {
    line: Vec<u8>,
    /// A CR ended the previous chunk: an LF first in the next one belongs to it.
    after_cr: bool,
    started: bool,
    data: String,
    has_data: bool,
    event: String,
    id_buffer: Option<String>,
    last_event_id: Option<String>,
    retry: Option<Duration>,
    limit: usize,
}

impl Decoder {
    /// A decoder that refuses events (or lines) larger than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            line: Vec::new(),
            after_cr: false,
            started: false,
            data: String::new(),
            has_data: false,
            event: String::new(),
            id_buffer: None,
            last_event_id: None,
            retry: None,
            limit,
        }
    }

    /// The last event id the stream set (for `Last-Event-ID` on a reconnect).
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref().filter(|id| !id.is_empty())
    }

    /// The reconnection time the stream asked for with `retry:`.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Carries the last event id and reconnection time of the stream this one resumes.
    pub fn inherit(&mut self, earlier: &Decoder) {
        if self.last_event_id.is_none() {
            self.last_event_id = earlier.last_event_id.clone();
        }
        if self.retry.is_none() {
            self.retry = earlier.retry;
        }
    }

    /// Feeds a chunk; returns the events it completed, in order.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<Vec<Event>, TooLarge> {
        let mut events = Vec::new();
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while !chunk.is_empty() {
            match chunk.iter().position(|b| *b == b'\n' || *b == b'\r') {
                Some(end) => {
                    self.line.extend_from_slice(&chunk[..end]);
                    let cr = chunk[end] == b'\r';
                    chunk = &chunk[end + 1..];
                    if cr {
                        match chunk.first() {
                            Some(b'\n') => chunk = &chunk[1..],
                            Some(_) => {}
                            None => self.after_cr = true,
                        }
                    }
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.process_line(&line) {
                        events.push(event);
                    }
                }
                None => {
                    self.line.extend_from_slice(chunk);
                    chunk = &[];
                }
            }
            if self.line.len() + self.data.len() > self.limit {
                return Err(TooLarge { limit: self.limit });
            }
        }
        Ok(events)
    }

    fn process_line(&mut self, raw: &[u8]) -> Option<Event> {
        let mut raw = raw;
        if !self.started {
            self.started = true;
            raw = raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(raw);
        }
        if raw.is_empty() {
            return self.dispatch();
        }
        if raw[0] == b':' {
            return None; // a comment (keep-alives are sent as these)
        }
        let line = String::from_utf8_lossy(raw);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.id_buffer = Some(value.to_string()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Event> {
        if let Some(id) = self.id_buffer.take() {
            self.last_event_id = Some(id);
        }
        let event = std::mem::take(&mut self.event);
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(Event {
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(decoder: &mut Decoder, chunks: &[&[u8]]) -> Vec<Event> {
        chunks
            .iter()
            .flat_map(|c| decoder.feed(c).expect("within the limit"))
            .collect()
    }

    fn message(data: &str) -> Event {
        Event {
            event: "message".into(),
            data: data.into(),
        }
    }

    #[test]
    fn every_line_ending_and_every_split_gives_the_same_events() {
        let stream = "\u{feff}: keep-alive\r\nid: 7\r\nretry: 500\r\ndata: \r\n\r\nevent: message\rdata: {\"t\":\"héllo wörld — 你好 🌍\"}\r\rdata:a\ndata:b\n\nid: 9\n\n";
        let bytes = stream.as_bytes();
        let expected = vec![
            message(""),
            message("{\"t\":\"héllo wörld — 你好 🌍\"}"),
            message("a\nb"),
        ];
        let mut whole = Decoder::new(1 << 20);
        assert_eq!(all(&mut whole, &[bytes]), expected);
        assert_eq!(whole.last_event_id(), Some("9"));
        assert_eq!(whole.retry(), Some(Duration::from_millis(500)));
        for cut in 0..=bytes.len() {
            let mut d = Decoder::new(1 << 20);
            let got = all(&mut d, &[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(got, expected, "split at byte {cut}");
            assert_eq!(d.last_event_id(), Some("9"), "split at byte {cut}");
        }
        // One byte at a time.
        let mut d = Decoder::new(1 << 20);
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(all(&mut d, &singles), expected);
    }

    #[test]
    fn id_and_retry_count_even_without_data() {
        let mut d = Decoder::new(1024);
        assert!(all(&mut d, &[b"id: prime-1\nretry: 250\n\n"]).is_empty());
        assert_eq!(d.last_event_id(), Some("prime-1"));
        assert_eq!(d.retry(), Some(Duration::from_millis(250)));
        // A bad retry value is ignored; an id with NUL is ignored.
        all(&mut d, &[b"retry: 5s\nid: a\0b\n\n"]);
        assert_eq!(d.retry(), Some(Duration::from_millis(250)));
        assert_eq!(d.last_event_id(), Some("prime-1"));
    }

    #[test]
    fn a_field_without_colon_and_repeated_fields_are_valid() {
        let mut d = Decoder::new(1024);
        let events = all(&mut d, &[b"data\nevent: a\nevent: b\ndata: x\n\n"]);
        assert_eq!(
            events,
            vec![Event {
                event: "b".into(),
                data: "\nx".into()
            }]
        );
    }

    #[test]
    fn an_unfinished_event_at_the_end_is_not_dispatched() {
        let mut d = Decoder::new(1024);
        assert!(all(&mut d, &[b"data: half"]).is_empty());
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters_not_an_error() {
        let mut d = Decoder::new(1024);
        let events = all(&mut d, &[b"data: a\xffb\n\n"]);
        assert_eq!(events, vec![message("a\u{fffd}b")]);
    }

    #[test]
    fn an_endless_event_is_refused_at_the_limit() {
        let mut d = Decoder::new(64);
        assert!(d.feed(&[b'x'; 40]).is_ok());
        assert_eq!(d.feed(&[b'x'; 40]), Err(TooLarge { limit: 64 }));
        let mut d = Decoder::new(64);
        let line = format!("data: {}\n", "x".repeat(40));
        assert!(d.feed(line.as_bytes()).is_ok());
        assert!(d.feed(line.as_bytes()).is_err(), "two lines of one event");
    }
}
