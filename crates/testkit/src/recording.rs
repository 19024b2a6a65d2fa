//! An HTTP client that records every URL it is asked for.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use mcpauth_core::http::{HttpClient, HttpLimits, HttpRequest, HttpResponse, ReqwestHttp};
use mcpauth_core::Result;

/// The real reqwest client, with every request's URL recorded.
#[derive(Clone)]
pub struct RecordingHttp {
    inner: ReqwestHttp,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Default for RecordingHttp {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordingHttp {
    /// The production client with default limits, recording.
    pub fn new() -> Self {
        Self::with_limits(HttpLimits::default())
    }

    pub fn with_limits(limits: HttpLimits) -> Self {
        Self {
            inner: ReqwestHttp::with_limits(limits).expect("client"),
            seen: Arc::default(),
        }
    }

    pub fn with_timeout(timeout: Duration) -> Self {
        Self::with_limits(HttpLimits {
            connect_timeout: timeout,
            total_timeout: timeout,
            ..HttpLimits::default()
        })
    }

    pub fn urls(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }

    /// How many requests went to URLs containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.urls().iter().filter(|u| u.contains(needle)).count()
    }

    /// True when any request went to a URL containing `needle`.
    pub fn sent_to(&self, needle: &str) -> bool {
        self.urls().iter().any(|u| u.contains(needle))
    }
}

impl HttpClient for RecordingHttp {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>> {
        self.seen
            .lock()
            .expect("lock")
            .push(request.url.to_string());
        self.inner.send(request)
    }
}
