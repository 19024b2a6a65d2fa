//! The main window: built when it is shown, destroyed when it is closed.
//!
//! An auth app sits in the tray all day, and a WebKitGTK window with its web
//! process costs ~360 MB resident even when hidden. So closing the window
//! destroys it (and its web view and web process), and the tray, the
//! scheduler, deep links, notifications and single-instance forwarding go on
//! in this process alone. Showing it again (tray, a second launch, a deep
//! link, a finished sign-in) builds a new window on the screen it was on; what
//! a page must not lose with it lives here: the screen, the sign-ins in
//! progress, and how the ones that finished meanwhile ended.

use std::sync::Mutex;

use tauri::{AppHandle, Emitter, Manager, WebviewWindow, WebviewWindowBuilder};

use crate::dto::{SignInFinished, SignInProgress, WindowState};

/// The main window's label, as in tauri.conf.json.
pub const MAIN: &str = "main";

/// What outlives the window.
#[derive(Default)]
pub struct WindowMemory {
    inner: Mutex<Memory>,
    /// Held while a window is being built, so that two callers build one.
    building: Mutex<()>,
}

#[derive(Default)]
struct Memory {
    /// The location hash of the screen shown last (`#/account/…`).
    route: Option<String>,
    /// Browser sign-ins started and not finished, oldest first.
    sign_ins: Vec<SignInProgress>,
    /// Sign-ins that finished while no page was listening, oldest first.
    missed: Vec<(Option<SignInProgress>, SignInFinished)>,
    /// Whether the current window's page has taken its state and listens to events.
    listening: bool,
}

impl WindowMemory {
    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds off building a window (memory.rs reads and releases the
    /// process's mappings meanwhile, and a window's build loads libraries).
    pub fn hold_building(&self) -> std::sync::MutexGuard<'_, ()> {
        self.building.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes the screen the page shows now (a location hash of ours).
    pub fn remember_route(&self, hash: &str) {
        if is_route_hash(hash) {
            self.lock().route = Some(hash.to_string());
        }
    }

    /// The screen shown last (a location hash), if the page named one.
    pub fn route(&self) -> Option<String> {
        self.lock().route.clone()
    }

    /// A browser sign-in was started.
    pub fn started(&self, progress: SignInProgress) {
        self.lock().sign_ins.push(progress);
    }

    /// A sign-in was cancelled: it is no longer in progress.
    pub fn cancelled(&self, id: &str) {
        self.lock().sign_ins.retain(|p| p.started.id != id);
    }

    /// A sign-in ended. True when a page listens (send the event); false when
    /// the event is kept for the next page.
    pub fn finished(&self, event: &SignInFinished) -> bool {
        let mut memory = self.lock();
        // Deep-link sign-ins finish without an id: the oldest in progress is
        // the one the front end waits for.
        let at = match &event.id {
            Some(id) => memory.sign_ins.iter().position(|p| &p.started.id == id),
            None => (!memory.sign_ins.is_empty()).then_some(0),
        };
        let progress = at.map(|i| memory.sign_ins.remove(i));
        if memory.listening {
            return true;
        }
        memory.missed.push((progress, event.clone()));
        false
    }

    /// The page's state: called once by each new page, after it subscribed to
    /// the events; from then on events go to it.
    pub fn take_state(&self) -> WindowState {
        let mut memory = self.lock();
        memory.listening = true;
        let missed = std::mem::take(&mut memory.missed);
        WindowState {
            sign_ins: memory.sign_ins.clone(),
            finished: missed
                .into_iter()
                .map(|(progress, event)| crate::dto::MissedFinish { progress, event })
                .collect(),
        }
    }

    /// Whether a page listens to events now.
    pub fn listening(&self) -> bool {
        self.lock().listening
    }

    /// The window is gone: events wait for the next page.
    fn closed(&self) {
        self.lock().listening = false;
    }

    /// JavaScript run before the page's own: opens the screen shown last,
    /// unless the page was opened on one.
    fn resume_script(&self) -> String {
        let json = js_string(&self.lock().route.clone().unwrap_or_default());
        format!(
            "(function(){{var r={json};if(r&&(!location.hash||location.hash==='#'))\
             history.replaceState(null,'',r);}})();"
        )
    }
}

/// `text` as a JavaScript string literal.
fn js_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// Whether `hash` is one of the front end's routes (ui/src/lib/route.ts), so
/// that nothing else ends up in the script the next window runs.
fn is_route_hash(hash: &str) -> bool {
    let Some(path) = hash.strip_prefix("#/") else {
        return false;
    };
    hash.len() <= 512
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./%~".contains(&b))
}

/// The main window, when it exists.
pub fn current(app: &AppHandle) -> Option<WebviewWindow> {
    app.get_webview_window(MAIN)
}

/// Shows the main window, building it when it was closed, and focuses it.
/// Always on the main thread: a window built from another thread waits for
/// the event loop, which during start-up has not run yet (a deep link or a
/// second launch that arrives while `setup` runs would wait for ever).
pub fn show(app: &AppHandle) {
    let handle = app.clone();
    if let Err(e) = app.run_on_main_thread(move || show_now(&handle)) {
        eprintln!("mcpauth-app: cannot open the window: {e}");
    }
}

/// Shows the main window on `route` (a location hash of ours, `#/account/…`):
/// a new window opens there, an open one goes there.
pub fn show_at(app: &AppHandle, route: &str) {
    let memory = app.state::<WindowMemory>();
    if !is_route_hash(route) {
        return show(app);
    }
    memory.remember_route(route);
    let handle = app.clone();
    let route = route.to_string();
    let shown = app.run_on_main_thread(move || {
        if let Some(window) = current(&handle) {
            let _ = window.eval(format!("location.hash={};", js_string(&route)));
        }
        show_now(&handle);
    });
    if let Err(e) = shown {
        eprintln!("mcpauth-app: cannot open the window: {e}");
    }
}

fn show_now(app: &AppHandle) {
    let window = match current(app) {
        Some(window) => window,
        None => match build(app) {
            Ok(window) => window,
            Err(e) => {
                eprintln!("mcpauth-app: cannot open the window: {e}");
                return;
            }
        },
    };
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
}

/// Builds the main window from its configuration, on the screen shown last.
pub fn build(app: &AppHandle) -> Result<WebviewWindow, String> {
    let memory = app.state::<WindowMemory>();
    let _one = memory.building.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(window) = current(app) {
        return Ok(window); // built by the caller before us
    }
    // Every window after the first is a re-open (timed: startup::first_render).
    static BUILT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if BUILT.swap(true, std::sync::atomic::Ordering::SeqCst) {
        crate::startup::mark_reopen();
    }
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned()
        .ok_or("tauri.conf.json has no main window")?;
    let window = WebviewWindowBuilder::from_config(app, &config)
        .map_err(|e| e.to_string())?
        .initialization_script(memory.resume_script())
        .build()
        .map_err(|e| e.to_string())?;
    crate::startup::tune_webview(&window);
    let handle = app.clone();
    window.on_window_event(move |event| {
        if let tauri::WindowEvent::Destroyed = event {
            handle.state::<WindowMemory>().closed();
            #[cfg(target_os = "linux")]
            crate::memory::release(&handle);
        }
    });
    Ok(window)
}

/// Sends an event to the page, or keeps what it needs for the next one.
pub fn send_finished(app: &AppHandle, event: SignInFinished) {
    if app.state::<WindowMemory>().finished(&event) {
        let _ = app.emit("sign-in-finished", event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto::SignInStarted;

    fn progress(id: &str) -> SignInProgress {
        SignInProgress {
            started: SignInStarted {
                id: id.into(),
                authorization_server_host: "as.example".into(),
                redirect_uri: "http://127.0.0.1:1/callback".into(),
                scopes: vec![],
                browser: "opened".into(),
                authorization_url: "https://as.example/authorize".into(),
            },
            purpose: "add".into(),
            account_id: None,
            before: vec![],
            asked: vec![],
            server_url: "https://mcp.example/mcp".into(),
        }
    }

    /// The sign-in id of the `i`-th missed ending in `state`.
    fn missed_id(state: &WindowState, i: usize) -> Option<&str> {
        state.finished[i]
            .progress
            .as_ref()
            .map(|p| p.started.id.as_str())
    }

    fn finished(id: Option<&str>) -> SignInFinished {
        SignInFinished {
            id: id.map(str::to_string),
            account: None,
            error: Some("denied".into()),
        }
    }

    #[test]
    fn a_sign_in_that_ends_with_no_page_waits_for_the_next_one() {
        let memory = WindowMemory::default();
        memory.started(progress("a"));
        memory.started(progress("b"));
        assert!(
            !memory.finished(&finished(Some("b"))),
            "no page listens yet"
        );
        let state = memory.take_state();
        assert_eq!(state.sign_ins.len(), 1, "a is still in progress");
        assert_eq!(state.sign_ins[0].started.id, "a");
        assert_eq!(state.finished.len(), 1);
        assert_eq!(missed_id(&state, 0), Some("b"));
        // Now a page listens: the next ending is sent, not kept, and kept ones went once.
        assert!(memory.finished(&finished(Some("a"))));
        let again = memory.take_state();
        assert!(again.finished.is_empty() && again.sign_ins.is_empty());
        memory.closed();
        assert!(!memory.listening());
    }

    #[test]
    fn a_deep_link_ending_takes_the_oldest_sign_in() {
        let memory = WindowMemory::default();
        memory.started(progress("a"));
        memory.started(progress("b"));
        memory.cancelled("a");
        assert!(!memory.finished(&finished(None)));
        let state = memory.take_state();
        assert!(state.sign_ins.is_empty());
        assert_eq!(missed_id(&state, 0), Some("b"));
    }

    #[test]
    fn only_our_routes_reach_the_next_window() {
        let memory = WindowMemory::default();
        assert!(memory.resume_script().contains("var r=\"\""));
        memory.remember_route("#/account/ab12-cd");
        assert!(memory.resume_script().contains("\"#/account/ab12-cd\""));
        for bad in [
            "#/x');alert(1)//",
            "javascript:alert(1)",
            "#/a\"b",
            "#/a b",
            "",
        ] {
            memory.remember_route(bad);
            assert!(
                memory.resume_script().contains("\"#/account/ab12-cd\""),
                "{bad} was refused"
            );
        }
    }
}
