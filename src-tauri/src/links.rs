//! `mcpauth://` links: the OAuth callback (`mcpauth://oauth/callback?…`) and
//! click-to-sign-in links (`mcpauth://signin?url=…&scope=…`). A callback is
//! completed only when it matches a sign-in this app started; anything else is
//! shown as refused. A sign-in link only opens the preview after the user
//! confirms it in the window.

use std::sync::Mutex;

use tauri::{AppHandle, Emitter, Manager};

use crate::dto::SignInLink;
use crate::state::AppState;

/// What arrived by link before the front end was listening: the last sign-in
/// link, and refusals of callbacks (a cold start by a forged link shows them too).
#[derive(Default)]
pub struct LinkState {
    link: Mutex<Option<SignInLink>>,
    notices: Mutex<Vec<String>>,
}

impl LinkState {
    pub fn take(&self) -> Option<SignInLink> {
        self.link.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn put(&self, link: SignInLink) {
        *self.link.lock().unwrap_or_else(|e| e.into_inner()) = Some(link);
    }

    /// The refusals so far, once.
    pub fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut *self.notices.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn notice(&self, text: String) {
        self.notices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(text);
    }
}

/// What a link asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Link {
    Callback(String),
    SignIn(SignInLink),
    Unknown(String),
}

/// Parses an `mcpauth:` URL.
pub fn parse(raw: &str) -> Link {
    let Ok(url) = url::Url::parse(raw) else {
        return Link::Unknown("not a URL".into());
    };
    if url.scheme() != "mcpauth" {
        return Link::Unknown(format!("scheme {} is not mcpauth", url.scheme()));
    }
    let target = format!("{}{}", url.host_str().unwrap_or_default(), url.path());
    match target.as_str() {
        "oauth/callback" => Link::Callback(raw.to_string()),
        "signin" | "signin/" => {
            let mut mcp = None;
            let mut scopes = Vec::new();
            for (k, v) in url.query_pairs() {
                match k.as_ref() {
                    "url" => mcp = Some(v.into_owned()),
                    "scope" => scopes.extend(v.split_whitespace().map(str::to_string)),
                    _ => {}
                }
            }
            match mcp.filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                Some(u) => Link::SignIn(SignInLink { url: u, scopes }),
                None => Link::Unknown("a sign-in link needs url=<http(s) MCP server URL>".into()),
            }
        }
        other => Link::Unknown(format!("unknown link target `{other}`")),
    }
}

/// Acts on a link delivered by the deep-link plugin (first or second instance).
pub fn handle(app: &AppHandle, raw: &str) {
    match parse(raw) {
        Link::Callback(url) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let vault = app.state::<AppState>().vault.clone();
                match vault.complete_sign_in(&url).await {
                    Ok(account) => crate::commands::finished(&app, None, Ok(account)),
                    Err(
                        e @ (mcpauth_vault::Error::NoSuchSignIn
                        | mcpauth_vault::Error::Protocol(mcpauth_core::Error::State { .. })),
                    ) => {
                        // Not ours, stale or replayed: show it, do nothing with it.
                        app.state::<LinkState>().notice(e.to_string());
                        let _ = app.emit("unsolicited-callback", e.to_string());
                        crate::focus_main_window(&app);
                    }
                    Err(e) => crate::commands::finished(&app, None, Err(e)),
                }
            });
        }
        Link::SignIn(link) => {
            app.state::<LinkState>().put(link.clone());
            let _ = app.emit("signin-link", link);
            crate::focus_main_window(app);
        }
        Link::Unknown(why) => {
            let _ = app.emit("unknown-link", format!("{raw}: {why}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_forms() {
        assert_eq!(
            parse("mcpauth://oauth/callback?code=c&state=s"),
            Link::Callback("mcpauth://oauth/callback?code=c&state=s".into())
        );
        assert_eq!(
            parse("mcpauth://signin?url=https%3A%2F%2Fmcp.example%2Fmcp&scope=a%20b"),
            Link::SignIn(SignInLink {
                url: "https://mcp.example/mcp".into(),
                scopes: vec!["a".into(), "b".into()]
            })
        );
        assert!(matches!(
            parse("mcpauth://signin?url=javascript:alert(1)"),
            Link::Unknown(_)
        ));
        assert!(matches!(parse("mcpauth://signin"), Link::Unknown(_)));
        assert!(matches!(parse("https://example.com"), Link::Unknown(_)));
        assert!(matches!(
            parse("mcpauth://delete-everything"),
            Link::Unknown(_)
        ));
    }
}
