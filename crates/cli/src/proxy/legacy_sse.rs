//! The HTTP+SSE transport of 2024-11-05, which servers still run and the
//! 2025 revisions' backwards-compatibility section tells clients to fall back
//! to: GET the event stream, read its `endpoint` event, POST every message
//! there; every answer and server message arrives on the one stream.

use serde_json::Value;
use tokio::sync::mpsc;
use url::Url;

use super::wire::{is_event_stream, Deadline, StreamEnd, Wire, WireError};

/// What the stream delivers.
#[derive(Debug)]
pub enum Delivery {
    Message(Value),
    /// The stream ended: the session is gone with it.
    Closed(String),
}

pub struct LegacySse {
    wire: Wire,
    endpoint: Url,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for LegacySse {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl LegacySse {
    /// Opens the stream and waits for its `endpoint`; from then on every
    /// message goes to `sink`.
    pub async fn connect(
        wire: Wire,
        url: Url,
        sink: mpsc::UnboundedSender<Delivery>,
    ) -> Result<Self, WireError> {
        let response = wire
            .send("GET", Deadline::Own, || {
                wire.client()
                    .get(url.clone())
                    .header("accept", "text/event-stream")
            })
            .await?;
        if !response.status().is_success() {
            return Err(wire.error_of(response).await);
        }
        if !is_event_stream(&response) {
            return Err(WireError::Transport(format!(
                "{url} is neither a Streamable HTTP nor an HTTP+SSE MCP endpoint"
            )));
        }
        let mut events = wire.events(response);
        let endpoint = loop {
            let event = tokio::time::timeout(wire.limits.own, events.next_event())
                .await
                .map_err(|_| {
                    WireError::Transport(format!(
                        "{url} opened an event stream but named no endpoint"
                    ))
                })?
                .map_err(|end| match end {
                    StreamEnd::Closed => WireError::Transport(format!(
                        "{url} closed its event stream before naming an endpoint"
                    )),
                    StreamEnd::Broken(why) => WireError::Transport(why),
                })?;
            if event.event == "endpoint" {
                break event.data;
            }
        };
        let endpoint = url.join(endpoint.trim()).map_err(|e| {
            WireError::Transport(format!("{url} named an endpoint that is not a URL: {e}"))
        })?;
        // The token goes only to the server the user chose (SPEC §4.8).
        if endpoint.origin() != url.origin() {
            return Err(WireError::Transport(format!(
                "{url} named an endpoint on another origin ({}); refused, the token stays with {}",
                endpoint.origin().ascii_serialization(),
                url.origin().ascii_serialization()
            )));
        }
        let reader = tokio::spawn(async move {
            loop {
                match events.next_message().await {
                    Ok(message) => {
                        if sink.send(Delivery::Message(message)).is_err() {
                            return;
                        }
                    }
                    Err(end) => {
                        let why = match end {
                            StreamEnd::Closed => "the server closed its event stream".to_string(),
                            StreamEnd::Broken(why) => why,
                        };
                        let _ = sink.send(Delivery::Closed(why));
                        return;
                    }
                }
            }
        });
        Ok(Self {
            wire,
            endpoint,
            reader,
        })
    }

    /// POSTs one message to the endpoint (answered 202; the reply comes on the stream).
    pub async fn post(&self, message: &Value) -> Result<(), WireError> {
        let body = message.to_string();
        let operation = match (
            message.get("method").and_then(Value::as_str),
            message.pointer("/params/name").and_then(Value::as_str),
        ) {
            (Some(m), Some(n)) => format!("{m} {n}"),
            (Some(m), None) => m.to_string(),
            _ => "response".into(),
        };
        let response = self
            .wire
            .send(&operation, Deadline::Own, || {
                self.wire
                    .client()
                    .post(self.endpoint.clone())
                    .header("content-type", "application/json")
                    .body(body.clone())
            })
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.wire.error_of(response).await)
        }
    }
}
