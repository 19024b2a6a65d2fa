//! Desktop notifications, and what a click on one does: opens the window
//! (building it when it was closed) on the account the notification is about.
//!
//! On Linux the notification is sent with notify-rust (the library the
//! notification plugin uses underneath), because the plugin there neither
//! asks for a default action nor reports a click: the desktop's notification
//! server (org.freedesktop.Notifications) reports it as `ActionInvoked` with
//! the key `default`. Elsewhere the plugin sends it, without the click.

use tauri::AppHandle;

const SIGN_IN_AGAIN: &str = "MCP Auth: sign in again";

/// Tells the user that `account` needs a new sign-in, and why.
pub fn needs_sign_in(app: &AppHandle, account: &str, reason: &str) {
    let body = format!("Account {account} needs a new sign-in: {reason}");
    let route = format!("#/account/{account}");
    send(app, SIGN_IN_AGAIN, body, route);
}

#[cfg(target_os = "linux")]
fn send(app: &AppHandle, title: &'static str, body: String, route: String) {
    use notify_rust::{Notification, NotificationResponse};
    /// How long a shown notification's click is waited for; servers end the
    /// wait sooner when the notification expires or is dismissed.
    const CLICK_WAIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shown = Notification::new()
            .appname("MCP Auth")
            .summary(title)
            .body(&body)
            .action("default", "Open")
            .show_async()
            .await;
        let handle = match shown {
            Ok(handle) => handle,
            Err(e) => {
                tracing::warn!(error = %e, "no desktop notification server answered");
                return;
            }
        };
        let mut clicked = false;
        let wait = handle.wait_for_action_async(|response| {
            clicked = matches!(response, NotificationResponse::Default);
        });
        if tokio::time::timeout(CLICK_WAIT, wait).await.is_ok() && clicked {
            crate::window::show_at(&app, &route);
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn send(app: &AppHandle, title: &'static str, body: String, _route: String) {
    use tauri_plugin_notification::NotificationExt;
    let _ = app.notification().builder().title(title).body(body).show();
}
