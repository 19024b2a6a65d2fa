//! Keeps the tokens the proxy has sent out of everything it prints or hands
//! to the client: a server may echo the `Authorization` header in an error
//! page, a log line or even a tool result, and the stdio client (often an AI
//! assistant) must never see it.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

/// How many tokens are remembered (the current one and a few it replaced).
const REMEMBERED: usize = 8;
const MARK: &str = "[redacted]";

/// The secrets to scrub; cheap to clone and share.
#[derive(Clone, Default)]
pub struct Scrubber {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrubber([redacted])")
    }
}

impl Scrubber {
    /// Remembers a secret that is about to be sent.
    pub fn remember(&self, secret: &str) {
        // Shorter strings would match ordinary text; no real token is this short.
        if secret.len() < 8 {
            return;
        }
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        if secrets.iter().any(|s| s == secret) {
            return;
        }
        // Also the form a JSON encoder that escapes `/` writes.
        let escaped = secret.replace('/', "\\/");
        let mut new = vec![secret.to_string()];
        if escaped != secret {
            new.push(escaped);
        }
        while secrets.len() + new.len() > REMEMBERED {
            secrets.remove(0); // the oldest
        }
        secrets.extend(new);
    }

    /// A line for stderr: scrubbed, and without control characters (a server
    /// could otherwise move the terminal's cursor or change its colours).
    pub fn printable(&self, text: &str) -> String {
        self.scrub(text)
            .chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect()
    }

    /// The text with every remembered secret replaced by `[redacted]`.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Cow::Borrowed(text);
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MARK));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_every_remembered_token_and_its_escaped_form() {
        let s = Scrubber::default();
        s.remember("eyJhbGciOi.abc/def.ghi");
        s.remember("short");
        let text = r#"401: {"echo":"Bearer eyJhbGciOi.abc/def.ghi","json":"eyJhbGciOi.abc\/def.ghi","x":"short"}"#;
        let out = s.scrub(text);
        assert!(
            !out.contains("abc/def") && !out.contains("abc\\/def"),
            "{out}"
        );
        assert!(
            out.contains("Bearer [redacted]") && out.contains("short"),
            "{out}"
        );
        assert!(matches!(s.scrub("nothing here"), Cow::Borrowed(_)));
        assert_eq!(format!("{s:?}"), "Scrubber([redacted])");
    }

    #[test]
    fn remembers_a_bounded_number() {
        let s = Scrubber::default();
        for i in 0..20 {
            s.remember(&format!("token-number-{i:02}"));
        }
        assert!(s.scrub("token-number-19").contains(MARK));
        assert!(!s.scrub("token-number-00").contains(MARK));
    }
}
