//! `mcpauth://` links: the OAuth callback (`mcpauth://oauth/callback?…`) and
//! click-to-sign-in links (`mcpauth://signin?url=…&scope=…`). A callback is
//! completed only when it matches a sign-in this app started; anything else is
//! shown as refused. A sign-in link only opens the preview after the user
//! confirms it in the window.

use std::sync::Mutex;

use mcpauth_vault::links::{parse_deep_link, DeepLink};
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

/// Acts on a link delivered by the deep-link plugin (first or second instance).
pub fn handle(app: &AppHandle, raw: &str) {
    match parse_deep_link(raw) {
        DeepLink::Callback(url) => {
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
                        // Kept for the next page only when none listens now.
                        if app.state::<crate::window::WindowMemory>().listening() {
                            let _ = app.emit("unsolicited-callback", e.to_string());
                        } else {
                            app.state::<LinkState>().notice(e.to_string());
                        }
                        crate::focus_main_window(&app);
                    }
                    Err(e) => crate::commands::finished(&app, None, Err(e)),
                }
            });
        }
        DeepLink::SignIn { url, scopes } => {
            let link = SignInLink { url, scopes };
            app.state::<LinkState>().put(link.clone());
            let _ = app.emit("signin-link", link);
            crate::focus_main_window(app);
        }
        DeepLink::Unknown(why) => {
            // The reason only: the link itself may carry an authorization code.
            let _ = app.emit("unknown-link", why);
        }
    }
}
