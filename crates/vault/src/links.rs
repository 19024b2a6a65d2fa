//! `mcpauth://` links, parsed without acting on them: the OAuth callback
//! (`mcpauth://oauth/callback?…`) and click-to-sign-in links
//! (`mcpauth://signin?url=<MCP server URL>&scope=…`). The app decides what to
//! do with each (a callback only completes a sign-in this process started; a
//! sign-in link only opens the preview after the user confirms). Kept here,
//! away from the app's window code, so it can be fuzzed and tested alone.

/// The longest link accepted; a browser or desktop hands over far less.
pub const MAX_LINK_LEN: usize = 8 * 1024;

/// What a link asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeepLink {
    /// An authorization response, kept as the full URL for the sign-in code.
    Callback(String),
    /// Open the Add server preview for `url`, with `scopes` pre-ticked.
    SignIn { url: String, scopes: Vec<String> },
    /// Anything else, with why it was not understood (never echoing the link).
    Unknown(String),
}

/// True for a scope token as RFC 6749 §3.3 allows it (`%x21 / %x23-5B / %x5D-7E`).
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Parses an `mcpauth:` URL.
pub fn parse_deep_link(raw: &str) -> DeepLink {
    if raw.len() > MAX_LINK_LEN {
        return DeepLink::Unknown(format!(
            "the link is {} bytes long; links longer than {MAX_LINK_LEN} bytes are not accepted",
            raw.len()
        ));
    }
    let Ok(url) = url::Url::parse(raw) else {
        return DeepLink::Unknown("not a URL".into());
    };
    if url.scheme() != "mcpauth" {
        return DeepLink::Unknown(match url.scheme() {
            short if short.len() <= 32 => format!("scheme `{short}` is not mcpauth"),
            _ => "the link's scheme is not mcpauth".into(),
        });
    }
    let target = format!("{}{}", url.host_str().unwrap_or_default(), url.path());
    match target.as_str() {
        // Handed on as parsed (scheme lower-cased, surrounding blanks gone).
        "oauth/callback" => DeepLink::Callback(url.to_string()),
        "signin" | "signin/" => {
            let mut mcp = None;
            let mut scopes: Vec<String> = Vec::new();
            for (k, v) in url.query_pairs() {
                match k.as_ref() {
                    "url" if mcp.is_none() => mcp = Some(v.into_owned()),
                    "scope" => {
                        for s in v.split([' ', '\t', '\n', '\r']).filter(|s| !s.is_empty()) {
                            if !is_scope_token(s) {
                                return DeepLink::Unknown(
                                    "the link's scope has characters a scope cannot contain".into(),
                                );
                            }
                            if !scopes.iter().any(|have| have == s) {
                                scopes.push(s.to_string());
                            }
                        }
                    }
                    _ => {}
                }
            }
            let Some(mcp) = mcp else {
                return DeepLink::Unknown(
                    "a sign-in link needs url=<the MCP server's http(s) URL>".into(),
                );
            };
            match url::Url::parse(&mcp) {
                Ok(u)
                    if matches!(u.scheme(), "http" | "https")
                        && u.host_str().is_some_and(|h| !h.is_empty())
                        && u.username().is_empty()
                        && u.password().is_none() =>
                {
                    // A bearer token never goes over cleartext to another host.
                    if u.scheme() == "http" && !mcpauth_core::http::is_loopback_host(&u) {
                        return DeepLink::Unknown(
                            "a sign-in link's url must use https (plain http only for 127.0.0.1, ::1 and localhost)"
                                .into(),
                        );
                    }
                    DeepLink::SignIn { url: mcp, scopes }
                }
                _ => DeepLink::Unknown(
                    "a sign-in link's url must be an http(s) URL of an MCP server, without credentials"
                        .into(),
                ),
            }
        }
        other if other.len() <= 64 => DeepLink::Unknown(format!("unknown link target `{other}`")),
        _ => DeepLink::Unknown("unknown link target".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urlencoding(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    #[test]
    fn link_forms() {
        assert_eq!(
            parse_deep_link("mcpauth://oauth/callback?code=c&state=s"),
            DeepLink::Callback("mcpauth://oauth/callback?code=c&state=s".into())
        );
        assert_eq!(
            parse_deep_link("mcpauth://signin?url=https%3A%2F%2Fmcp.example%2Fmcp&scope=a%20b%20a"),
            DeepLink::SignIn {
                url: "https://mcp.example/mcp".into(),
                scopes: vec!["a".into(), "b".into()]
            }
        );
        for refused in [
            "mcpauth://signin?url=javascript:alert(1)",
            "mcpauth://signin?url=https://",
            "mcpauth://signin?url=https%3A%2F%2Fuser%3Apw%40mcp.example%2F",
            "mcpauth://signin?url=https%3A%2F%2Fmcp.example&scope=a%22b",
            "mcpauth://signin?url=http%3A%2F%2Fmcp.example%2Fmcp",
            "mcpauth://signin",
            "https://example.com",
            "mcpauth://delete-everything",
            "not a url",
        ] {
            assert!(
                matches!(parse_deep_link(refused), DeepLink::Unknown(_)),
                "{refused}"
            );
        }
        assert!(matches!(
            parse_deep_link("mcpauth://signin?url=http%3A%2F%2Fmcp.example%2Fmcp"),
            DeepLink::Unknown(why) if why.contains("must use https")
        ));
        for loopback in [
            "http://127.0.0.1:8080/mcp",
            "http://localhost/mcp",
            "http://[::1]:9/mcp",
        ] {
            let link = format!("mcpauth://signin?url={}", urlencoding(loopback));
            assert!(
                matches!(parse_deep_link(&link), DeepLink::SignIn { ref url, .. } if url == loopback),
                "{link}"
            );
        }
        let long = format!(
            "mcpauth://signin?url=https://a.example/{}",
            "x".repeat(9000)
        );
        assert!(matches!(parse_deep_link(&long), DeepLink::Unknown(why) if why.contains("8192")));
    }

    #[test]
    fn reasons_never_echo_the_link() {
        let secret = "c0de-that-must-not-show";
        let long_target = format!("mcpauth://{}/{secret}", "h".repeat(80));
        for raw in [format!("mcpauth://signin?url=ftp://{secret}"), long_target] {
            match parse_deep_link(&raw) {
                DeepLink::Unknown(why) => assert!(!why.contains(secret), "{why}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
