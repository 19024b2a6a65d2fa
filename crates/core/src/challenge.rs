//! The `WWW-Authenticate` parser (RFC 9110 §11.6.1, RFC 6750 §3, RFC 9728 §5.1).
//!
//! One header value may hold several challenges, a response may hold several
//! headers, scheme and parameter names are case-insensitive, and values are
//! tokens or quoted strings with backslash escapes. Malformed input never
//! panics: the parser skips to the next comma and goes on.

/// One challenge: a scheme and either a token68 or a list of parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme as sent (compare case-insensitively).
    pub scheme: String,
    /// The token68 form, when the challenge used it.
    pub token68: Option<String>,
    /// Parameters in order; names lowercased.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of a parameter, by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A `Bearer` or `DPoP` challenge with the parameters MCP uses (a `DPoP`
/// challenge has the same ones, RFC 9449 §7.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BearerChallenge {
    /// True for a `DPoP` challenge.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop: bool,
    pub realm: Option<String>,
    /// RFC 9728 §5.1: where the protected resource metadata is.
    pub resource_metadata: Option<String>,
    /// Space-delimited scopes the resource asks for.
    pub scope: Option<String>,
    /// `invalid_token`, `insufficient_scope`, …
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl BearerChallenge {
    fn from_challenge(challenge: &Challenge) -> Self {
        let get = |name: &str| challenge.param(name).map(str::to_string);
        Self {
            dpop: challenge.scheme.eq_ignore_ascii_case(crate::dpop::SCHEME),
            realm: get("realm"),
            resource_metadata: get("resource_metadata"),
            scope: get("scope"),
            error: get("error"),
            error_description: get("error_description"),
        }
    }

    /// True for `error="insufficient_scope"` (RFC 6750 §3.1).
    pub fn is_insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

/// Parses every challenge in every given header value.
pub fn parse_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    values.into_iter().flat_map(parse_header_value).collect()
}

/// Every `Bearer` and `DPoP` challenge in the given header values, in order.
pub fn bearer_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<BearerChallenge> {
    parse_challenges(values)
        .iter()
        .filter(|c| {
            c.scheme.eq_ignore_ascii_case("bearer")
                || c.scheme.eq_ignore_ascii_case(crate::dpop::SCHEME)
        })
        .map(BearerChallenge::from_challenge)
        .collect()
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_token68_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~+/".contains(&c)
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        (self.pos > start)
            .then(|| std::str::from_utf8(&self.s[start..self.pos]).ok())
            .flatten()
    }

    /// A quoted-string with backslash escapes; `None` if unterminated.
    fn quoted(&mut self) -> Option<String> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return String::from_utf8(out).ok();
                }
                b'\\' => {
                    self.pos += 1;
                    out.push(self.peek()?);
                    self.pos += 1;
                }
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Skips to just after the next comma that is not inside a quoted string.
    fn skip_to_comma(&mut self) {
        let mut in_quotes = false;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'\\' if in_quotes => self.pos += 1,
                b'"' => in_quotes = !in_quotes,
                b',' if !in_quotes => return,
                _ => {}
            }
        }
    }

    /// Looks ahead: does `token BWS "="` (an auth-param) start here?
    fn at_param(&self) -> bool {
        let mut probe = Cursor {
            s: self.s,
            pos: self.pos,
        };
        if probe.token().is_none() {
            return false;
        }
        probe.skip_ows();
        if probe.peek() != Some(b'=') {
            return false;
        }
        probe.pos += 1;
        // `abc==` is a token68, not a parameter with an empty value.
        probe.skip_ows();
        !matches!(probe.peek(), None | Some(b'=' | b','))
    }
}

fn parse_header_value(value: &str) -> Vec<Challenge> {
    let mut cur = Cursor {
        s: value.as_bytes(),
        pos: 0,
    };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        while matches!(cur.peek(), Some(b' ' | b'\t' | b',')) {
            cur.pos += 1;
        }
        if cur.peek().is_none() {
            break;
        }
        let Some(scheme) = cur.token() else {
            cur.skip_to_comma();
            continue;
        };
        let mut challenge = Challenge {
            scheme: scheme.to_string(),
            token68: None,
            params: Vec::new(),
        };
        cur.skip_ows();
        if !cur.at_param() && cur.peek().is_some_and(is_token68_char) {
            let start = cur.pos;
            while cur.peek().is_some_and(is_token68_char) {
                cur.pos += 1;
            }
            while cur.peek() == Some(b'=') {
                cur.pos += 1;
            }
            challenge.token68 = std::str::from_utf8(&cur.s[start..cur.pos])
                .ok()
                .map(str::to_string);
            cur.skip_ows();
            if !matches!(cur.peek(), None | Some(b',')) {
                cur.skip_to_comma();
            }
            out.push(challenge);
            continue;
        }
        // auth-params, separated by commas, until something that is not a param.
        loop {
            while matches!(cur.peek(), Some(b' ' | b'\t' | b',')) {
                cur.pos += 1;
            }
            if !cur.at_param() {
                break;
            }
            let name = cur.token().unwrap_or_default().to_ascii_lowercase();
            cur.skip_ows();
            cur.pos += 1; // '='
            cur.skip_ows();
            let value = match cur.peek() {
                Some(b'"') => cur.quoted(),
                _ => cur.token().map(str::to_string),
            };
            match value {
                Some(v) => challenge.params.push((name, v)),
                None => {
                    cur.skip_to_comma();
                    continue;
                }
            }
            cur.skip_ows();
            if !matches!(cur.peek(), None | Some(b',')) {
                // Garbage after a value: drop it up to the next comma.
                cur.skip_to_comma();
            }
        }
        out.push(challenge);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mcp_challenge() {
        let c = bearer_challenges([
            r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="files:read files:write""#,
        ]);
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].resource_metadata.as_deref(),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c[0].scope.as_deref(), Some("files:read files:write"));
    }

    #[test]
    fn several_challenges_in_one_header_and_case_insensitive_names() {
        let all = parse_challenges([
            r#"Basic realm="a, b", bEaReR REALM="x", Error=insufficient_scope, scope="a \"b\"", Negotiate abc+/==, DPoP algs="ES256""#,
        ]);
        let schemes: Vec<&str> = all.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["Basic", "bEaReR", "Negotiate", "DPoP"]);
        assert_eq!(all[0].param("realm"), Some("a, b"));
        assert_eq!(all[2].token68.as_deref(), Some("abc+/=="));
        let bearer = bearer_challenges([all_header()]);
        assert_eq!(bearer.len(), 1);
        assert!(bearer[0].is_insufficient_scope());
        assert_eq!(bearer[0].scope.as_deref(), Some(r#"a "b""#));
        assert_eq!(bearer[0].realm.as_deref(), Some("x"));
    }

    fn all_header() -> &'static str {
        r#"Basic realm="a, b", bEaReR REALM="x", Error=insufficient_scope, scope="a \"b\"", Negotiate abc+/=="#
    }

    #[test]
    fn a_dpop_challenge_counts_with_its_scheme_named() {
        let c = bearer_challenges([
            r#"DPoP error="use_dpop_nonce", resource_metadata="https://m.example/.well-known/oauth-protected-resource/mcp", algs="ES256""#,
            "Bearer realm=\"x\"",
        ]);
        assert_eq!(c.len(), 2);
        assert!(c[0].dpop && !c[1].dpop);
        assert_eq!(c[0].error.as_deref(), Some("use_dpop_nonce"));
        assert_eq!(
            c[0].resource_metadata.as_deref(),
            Some("https://m.example/.well-known/oauth-protected-resource/mcp")
        );
    }

    #[test]
    fn several_headers() {
        let c = bearer_challenges(["Basic realm=\"x\"", "Bearer scope=\"a\""]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scope.as_deref(), Some("a"));
    }

    #[test]
    fn bare_scheme_and_garbage() {
        assert_eq!(bearer_challenges(["Bearer"]).len(), 1);
        // Unterminated quote: the challenge survives with what parsed.
        let c = bearer_challenges([r#"Bearer scope="a, error=x"#]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scope, None);
        assert!(parse_challenges(["", ",,,", "=\"\""]).is_empty());
    }

    fn arb_token() -> impl Strategy<Value = String> {
        "[A-Za-z][A-Za-z0-9_.-]{0,11}"
    }

    fn arb_value() -> impl Strategy<Value = String> {
        // Printable ASCII including quotes, backslashes, commas and spaces.
        "[ -~]{0,24}"
    }

    fn random_case(s: &str, flips: &[bool]) -> String {
        s.chars()
            .zip(flips.iter().cycle())
            .map(|(c, &up)| {
                if up {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    }

    fn quote(v: &str) -> String {
        let mut out = String::from("\"");
        for c in v.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    }

    type ArbChallenge = (String, Vec<(String, String, bool)>);

    fn arb_challenge() -> impl Strategy<Value = ArbChallenge> {
        (
            arb_token(),
            prop::collection::vec((arb_token(), arb_value(), any::<bool>()), 0..5),
        )
    }

    fn render(c: &ArbChallenge, flips: &[bool], spaces: &str) -> String {
        let params: Vec<String> =
            c.1.iter()
                .map(|(name, value, as_token)| {
                    let value = if *as_token
                        && !value.is_empty()
                        && value.bytes().all(|b| b.is_ascii_alphanumeric())
                    {
                        value.clone()
                    } else {
                        quote(value)
                    };
                    format!("{}{spaces}={spaces}{value}", random_case(name, flips))
                })
                .collect();
        if params.is_empty() {
            random_case(&c.0, flips)
        } else {
            format!(
                "{} {}",
                random_case(&c.0, flips),
                params.join(&format!("{spaces},{spaces}"))
            )
        }
    }

    proptest! {
        #[test]
        fn round_trips_rendered_challenges(
            challenges in prop::collection::vec(arb_challenge(), 1..4),
            flips in prop::collection::vec(any::<bool>(), 1..8),
            spaces in "[ ]{0,2}",
            split in any::<bool>(),
        ) {
            let rendered: Vec<String> = challenges.iter().map(|c| render(c, &flips, &spaces)).collect();
            let parsed = if split {
                parse_challenges(rendered.iter().map(String::as_str))
            } else {
                let joined = rendered.join(&format!("{spaces},{spaces}"));
                parse_challenges([joined.as_str()])
            };
            prop_assert_eq!(parsed.len(), challenges.len());
            for (got, want) in parsed.iter().zip(&challenges) {
                prop_assert!(got.scheme.eq_ignore_ascii_case(&want.0));
                let want_params: Vec<(String, String)> = want.1.iter()
                    .map(|(n, v, _)| (n.to_ascii_lowercase(), v.clone())).collect();
                prop_assert_eq!(&got.params, &want_params);
            }
        }

        #[test]
        fn never_panics(input in "\\PC{0,200}") {
            let _ = parse_challenges([input.as_str()]);
        }

        #[test]
        fn never_panics_on_challenge_like_bytes(input in "[ -~]{0,120}") {
            let _ = bearer_challenges([input.as_str(), "Bearer x=\"\\"]);
        }
    }
}
