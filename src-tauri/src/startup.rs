//! Start-up: how the web view is set up, and how long the first render took.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static LAUNCHED: OnceLock<Instant> = OnceLock::new();

/// Call first thing in `run`: the origin of the start-up time.
pub fn mark_launch() {
    LAUNCHED.get_or_init(Instant::now);
}

/// The front end rendered the accounts list for the first time. Logged once,
/// with the time since launch, when `MCPAUTH_LOG` is set (bench/app.sh reads
/// this line; it carries no account data).
pub fn first_render(accounts: u32) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) || std::env::var_os("MCPAUTH_LOG").is_none() {
        return;
    }
    let ms = LAUNCHED
        .get()
        .map_or(f64::NAN, |t| t.elapsed().as_secs_f64() * 1000.0);
    eprintln!("mcpauth-app: first render: {accounts} accounts, {ms:.0} ms after launch");
}

/// WebKitGTK's accelerated compositing keeps large GL buffers in both the app
/// and the web process (with software GL, as on a machine without a GPU driver,
/// ~80 MB more for the web process; BENCHMARKS.md). A window of forms and lists
/// gains nothing from it, so it is turned off.
#[cfg(target_os = "linux")]
pub fn tune_webview(window: &tauri::WebviewWindow) {
    let _ = window.with_webview(|webview| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        if let Some(settings) = webview.inner().settings() {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
}

#[cfg(not(target_os = "linux"))]
pub fn tune_webview(_window: &tauri::WebviewWindow) {}
