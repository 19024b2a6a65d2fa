//! Start-up: how the web view is set up, and how long the first render took.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::dto::StartupMark;

/// When `main` ran, as an instant and as milliseconds since the Unix epoch
/// (the front end's marks come in epoch milliseconds).
static LAUNCHED: OnceLock<(Instant, f64)> = OnceLock::new();
/// The backend's own start-up steps, in milliseconds since launch.
static MARKS: Mutex<Vec<(&'static str, f64)>> = Mutex::new(Vec::new());

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Call first thing in `run`: the origin of the start-up time.
pub fn mark_launch() {
    LAUNCHED.get_or_init(|| (Instant::now(), epoch_ms()));
}

fn since_launch() -> f64 {
    LAUNCHED
        .get()
        .map_or(f64::NAN, |(t, _)| t.elapsed().as_secs_f64() * 1000.0)
}

/// Notes that a start-up step of the backend is done (first time only).
pub fn mark(name: &'static str) {
    let at = since_launch();
    if let Ok(mut marks) = MARKS.lock() {
        if !marks.iter().any(|(n, _)| *n == name) {
            marks.push((name, at));
        }
    }
}

/// The start-up timeline: the backend's steps and the front end's, in
/// milliseconds since launch, in time order. Front-end marks with a time
/// that is not a finite number are left out.
fn timeline(front: &[StartupMark]) -> Vec<(String, f64)> {
    let launch_epoch = LAUNCHED.get().map_or(f64::NAN, |(_, e)| *e);
    let mut steps: Vec<(String, f64)> = MARKS
        .lock()
        .map(|m| m.iter().map(|(n, t)| ((*n).to_string(), *t)).collect())
        .unwrap_or_default();
    steps.extend(
        front
            .iter()
            .map(|m| (m.name.clone(), m.at - launch_epoch))
            .filter(|(_, t)| t.is_finite()),
    );
    steps.sort_by(|a, b| a.1.total_cmp(&b.1));
    steps
}

fn render_timeline(steps: &[(String, f64)]) -> String {
    steps
        .iter()
        .map(|(name, ms)| format!("{name} {ms:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The front end rendered the accounts list for the first time. Logged once,
/// with the time since launch and the start-up timeline, when `MCPAUTH_LOG`
/// is set (bench/app.sh reads this line; it carries no account data).
pub fn first_render(accounts: u32, front: &[StartupMark]) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) || std::env::var_os("MCPAUTH_LOG").is_none() {
        return;
    }
    let ms = since_launch();
    eprintln!(
        "mcpauth-app: first render: {accounts} accounts, {ms:.0} ms after launch; \
         start-up (ms after launch): {}",
        render_timeline(&timeline(front))
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_merges_both_sides_in_time_order() {
        mark_launch();
        mark("setup");
        let (_, launch) = *LAUNCHED.get().expect("marked above");
        let front = [
            StartupMark {
                name: "painted".into(),
                at: launch + 900.0,
            },
            StartupMark {
                name: "script".into(),
                at: launch + 400.0,
            },
            StartupMark {
                name: "broken".into(),
                at: f64::NAN,
            },
        ];
        let steps = timeline(&front);
        let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["setup", "script", "painted"]);
        assert_eq!(render_timeline(&steps[1..]), "script 400, painted 900");
    }
}
