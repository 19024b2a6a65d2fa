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

/// When a window was last asked for after the first (window::build).
static REOPENED: Mutex<Option<Instant>> = Mutex::new(None);

/// A window is being built again, after the first one closed.
pub fn mark_reopen() {
    if let Ok(mut at) = REOPENED.lock() {
        *at = Some(Instant::now());
    }
}

/// A page rendered the accounts list for the first time. Logged, when
/// `MCPAUTH_LOG` is set (bench/app.sh reads these lines; they carry no account
/// data): for the app's first window, with the time since launch and the
/// start-up timeline; for a window built again, with the time since it was
/// asked for.
pub fn first_render(accounts: u32, front: &[StartupMark], screen: Option<&str>) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if std::env::var_os("MCPAUTH_LOG").is_none() {
        return;
    }
    if DONE.swap(true, Ordering::SeqCst) {
        let asked = REOPENED.lock().ok().and_then(|mut at| at.take());
        if let Some(asked) = asked {
            let ms = asked.elapsed().as_secs_f64() * 1000.0;
            eprintln!(
                "mcpauth-app: window reopened: {accounts} accounts rendered {ms:.0} ms after it was asked for, on {}",
                screen.unwrap_or("#/accounts")
            );
        }
        return;
    }
    let ms = since_launch();
    eprintln!(
        "mcpauth-app: first render: {accounts} accounts, {ms:.0} ms after launch; \
         start-up (ms after launch): {}",
        render_timeline(&timeline(front))
    );
}

/// Sets up the web view on Linux:
/// - Accelerated compositing off. WebKitGTK's compositing keeps large GL
///   buffers in both the app and the web process (with software GL, as on a
///   machine without a GPU driver, ~80 MB more for the web process;
///   BENCHMARKS.md). A window of forms and lists gains nothing from it.
/// - The desktop's UI font as the page's `sans-serif`. On Linux the page asks
///   for the generic families only (ui/src/styles.css says why), which
///   fontconfig would map to its own default; GTK's font setting is the one
///   the rest of the desktop shows (tests/e2e/fonts.test.mjs).
#[cfg(target_os = "linux")]
pub fn tune_webview(window: &tauri::WebviewWindow) {
    let _ = window.with_webview(|webview| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        let view = webview.inner();
        if let Some(settings) = view.settings() {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            if let Some(family) = desktop_font_family(&view) {
                settings.set_sans_serif_font_family(&family);
                settings.set_default_font_family(&family);
            }
        }
    });
}

/// The family of GTK's `gtk-font-name` (e.g. "Cantarell" from "Cantarell 11"),
/// when Pango has it; None otherwise, and the page keeps fontconfig's default.
#[cfg(target_os = "linux")]
fn desktop_font_family(widget: &impl gtk::prelude::WidgetExt) -> Option<String> {
    use gtk::prelude::*;
    let name = gtk::Settings::default()?.gtk_font_name()?;
    let family = family_of(&name)?;
    let installed = widget
        .pango_context()
        .list_families()
        .iter()
        .any(|f| f.name().eq_ignore_ascii_case(&family));
    installed.then_some(family)
}

/// The family of a Pango font description ("Cantarell Bold 11" -> "Cantarell").
#[cfg(target_os = "linux")]
fn family_of(description: &str) -> Option<String> {
    let family = gtk::pango::FontDescription::from_string(description).family()?;
    let family = family.trim();
    (!family.is_empty()).then(|| family.to_string())
}

#[cfg(not(target_os = "linux"))]
pub fn tune_webview(_window: &tauri::WebviewWindow) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_family_of_a_gtk_font_name() {
        assert_eq!(family_of("Cantarell 11").as_deref(), Some("Cantarell"));
        assert_eq!(family_of("Ubuntu Bold 11").as_deref(), Some("Ubuntu"));
        assert_eq!(family_of("Noto Sans, 10").as_deref(), Some("Noto Sans"));
        assert_eq!(family_of("12"), None);
    }

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
