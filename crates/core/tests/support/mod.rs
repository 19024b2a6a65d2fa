//! A scripted HTTP client for answers real servers never give.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use futures::future::BoxFuture;
use mcpauth_core::http::{HttpClient, HttpRequest, HttpResponse};

/// Answers each request with the next scripted response.
pub struct Scripted {
    answers: Mutex<VecDeque<(u16, String)>>,
    seen: Mutex<Vec<(Instant, HttpRequest)>>,
}

impl Scripted {
    pub fn new(answers: &[(u16, &str)]) -> Self {
        Self {
            answers: Mutex::new(answers.iter().map(|(s, b)| (*s, b.to_string())).collect()),
            seen: Mutex::new(Vec::new()),
        }
    }

    pub fn requests(&self) -> Vec<(Instant, HttpRequest)> {
        self.seen.lock().expect("seen").clone()
    }

    pub fn body(&self, n: usize) -> String {
        let seen = self.seen.lock().expect("seen");
        String::from_utf8(seen[n].1.body.clone().unwrap_or_default()).expect("utf8")
    }
}

impl HttpClient for Scripted {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, mcpauth_core::Result<HttpResponse>> {
        self.seen
            .lock()
            .expect("seen")
            .push((Instant::now(), request));
        let (status, body) = self
            .answers
            .lock()
            .expect("answers")
            .pop_front()
            .expect("a scripted answer for every request");
        Box::pin(async move {
            Ok(HttpResponse {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.into_bytes(),
            })
        })
    }
}
