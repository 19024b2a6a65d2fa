//! The MCP Auth desktop app: thin commands over the vault, deep links,
//! single instance, tray and notifications. The front end is in `ui/`.

mod cli;
mod commands;
pub mod dto;
mod idp;
mod links;
#[cfg(target_os = "linux")]
mod memory;
mod notify;
mod startup;
mod state;
mod window;

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_deep_link::DeepLinkExt;

use mcpauth_vault::scheduler::{self, VaultEvent};

/// Shows, unminimizes and focuses the main window, building it when it was closed.
pub fn focus_main_window(app: &AppHandle) {
    window::show(app);
}

/// The tray's status line; None when the accounts cannot be read just now.
fn tray_summary(app: &AppHandle) -> Option<String> {
    let accounts = app.state::<state::AppState>().vault.list().ok()?;
    let waiting = accounts
        .iter()
        .filter(|a| matches!(a.status, mcpauth_vault::AccountStatus::NeedsSignIn { .. }))
        .count();
    Some(match (accounts.len(), waiting) {
        (0, _) => "MCP Auth: no accounts".into(),
        (n, 0) => format!("MCP Auth: {n} account(s), all signed in"),
        (n, w) => format!("MCP Auth: {n} account(s), {w} need sign-in"),
    })
}

/// The first line of the tray menu: the status summary, disabled (a label, not
/// an action). Linux's tray (libappindicator, the StatusNotifierItem protocol)
/// shows no tooltip at all, so this line is where the summary can be read
/// there; the tooltip carries the same text on macOS and Windows.
///
/// No AppIndicator label (`TrayIcon::set_title` on Linux) either: panels show
/// the label next to the icon at all times, far too much room for this text.
struct TraySummary {
    item: MenuItem<tauri::Wry>,
    /// What the tray shows now, so that an unchanged summary is not sent again.
    shown: std::sync::Mutex<String>,
    /// The account database's change stamp when `shown` was computed: the
    /// summary is recomputed (a full account list) only when it moved.
    stamp: std::sync::Mutex<Option<(i64, u64)>>,
}

fn setup_tray(app: &AppHandle) -> tauri::Result<()> {
    // The stamp first: a change while the summary is computed moves it again.
    let stamp = app.state::<state::AppState>().vault.change_stamp().ok();
    let (text, stamp) = match tray_summary(app) {
        Some(text) => (text, stamp),
        None => ("MCP Auth".into(), None), // recomputed at the first tick
    };
    let summary = MenuItem::with_id(app, "summary", &text, false, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let show = MenuItem::with_id(app, "show", "Show MCP Auth", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&summary, &separator, &show, &quit])?;
    let mut tray = TrayIconBuilder::with_id("main")
        .menu(&menu)
        .tooltip(&text)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "show" => focus_main_window(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    app.manage(TraySummary {
        item: summary,
        shown: std::sync::Mutex::new(text),
        stamp: std::sync::Mutex::new(stamp),
    });
    Ok(())
}

/// Puts the current summary in the tray's tooltip and first menu line, when it changed.
fn update_tray(app: &AppHandle) {
    let Some(summary) = app.try_state::<TraySummary>() else {
        return; // no tray
    };
    // Every tick, so this is cheap when nothing changed: two integers, no list.
    let stamp = app.state::<state::AppState>().vault.change_stamp().ok();
    let Ok(mut last) = summary.stamp.lock() else {
        return;
    };
    if stamp.is_some() && *last == stamp {
        return;
    }
    let Some(text) = tray_summary(app) else {
        return; // try again next tick
    };
    *last = stamp;
    let Ok(mut shown) = summary.shown.lock() else {
        return;
    };
    if *shown == text {
        return;
    }
    if let Some(tray) = app.tray_by_id("main") {
        let _ = tray.set_tooltip(Some(&text));
    }
    let _ = summary.item.set_text(&text);
    *shown = text;
}

/// Forwards the vault scheduler's events to the front end, the tray and
/// notifications. The tray is also brought up to date every scheduler tick:
/// the app's own changes (a sign-in, a sign-out, a new machine account) reach
/// the database through this process's connection, which the scheduler does
/// not see as a change.
fn start_scheduler(app: &AppHandle) {
    let vault = app.state::<state::AppState>().vault.clone();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let (_task, mut events) = scheduler::spawn(vault);
        let mut tick = tokio::time::interval(scheduler::TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => {
                        if let VaultEvent::NeedsSignIn { account, reason } = &event {
                            notify::needs_sign_in(&app, account, reason);
                        }
                        update_tray(&app);
                        let _ = app.emit("vault-changed", dto::VaultChange::from(&event));
                    }
                    // Missed events: the tray and the next event catch up.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick() => update_tray(&app),
            }
        }
    });
}

/// The argument the login item starts the app with: start in the tray, window hidden.
pub const HIDDEN_ARG: &str = "--hidden";

/// Builds the app and runs it until its last window closes.
pub fn run() {
    startup::mark_launch();
    // GTK's own OpenGL draws nothing here (the web view renders with WebKit's
    // own, and compositing is off: startup::tune_webview), yet initialising it
    // at start loads Mesa and LLVM, ~45 MB resident, into a tray app that may
    // never open its window (BENCHMARKS.md). Set before GTK starts and before
    // any thread exists; a GDK_GL the user set is kept.
    #[cfg(target_os = "linux")]
    if std::env::var_os("GDK_GL").is_none() {
        std::env::set_var("GDK_GL", "disable");
    }
    let result = tauri::Builder::default()
        // First: a second launch (e.g. the browser opening mcpauth://…) hands its
        // arguments to this instance, whose deep-link handler then fires.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            focus_main_window(app);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_notification::init())
        // Start at login (Settings): an XDG autostart entry on Linux, a launch
        // agent on macOS, the Run key on Windows; started that way the app stays
        // in the tray. Controlled only through get_settings/set_settings.
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .app_name("MCP Auth")
                .args([HIDDEN_ARG])
                .build(),
        )
        .manage(links::LinkState::default())
        .manage(window::WindowMemory::default())
        .on_page_load(|_webview, payload| match payload.event() {
            tauri::webview::PageLoadEvent::Started => startup::mark("page load started"),
            tauri::webview::PageLoadEvent::Finished => startup::mark("page loaded"),
        })
        .setup(|app| {
            startup::mark("setup");
            let state = state::AppState::open()
                .map_err(|e| format!("cannot open the MCP Auth vault: {e}"))?;
            app.manage(state);
            startup::mark("vault open");
            // The tray and the window first: a link handled below shows the window.
            let tray = setup_tray(app.handle());
            if let Err(e) = &tray {
                eprintln!("mcpauth-app: no tray icon: {e}");
            }
            app.manage(Tray(tray.is_ok()));
            // Started at login: stay in the tray, with no window (and no web
            // view) until the user opens it. Without a tray there is nothing
            // to open it from, so the window comes up anyway.
            let hidden = std::env::args().any(|a| a == HIDDEN_ARG);
            if !(hidden && tray.is_ok()) {
                window::build(app.handle())?;
            } else {
                #[cfg(target_os = "linux")]
                memory::release_after(app.handle(), std::time::Duration::from_secs(3));
            }
            #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
            if let Err(e) = app.deep_link().register_all() {
                eprintln!("mcpauth-app: could not register the mcpauth:// handler: {e}");
            }
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |event| {
                for url in event.urls() {
                    links::handle(&handle, url.as_str());
                }
            });
            if let Ok(Some(urls)) = app.deep_link().get_current() {
                for url in urls {
                    links::handle(app.handle(), url.as_str());
                }
            }
            start_scheduler(app.handle());
            startup::mark("setup done");
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::list_accounts,
            commands::account_detail,
            commands::discover,
            commands::begin_sign_in,
            commands::share_sign_in,
            commands::cancel_sign_in,
            commands::refresh_now,
            commands::upgrade_scopes,
            commands::sign_out,
            commands::add_machine_account,
            idp::identity_providers,
            idp::sign_in_to_identity_provider,
            idp::forget_identity_provider,
            commands::set_default,
            commands::export_preview,
            commands::export_write,
            commands::copy_token,
            commands::copy_header,
            commands::reveal_token,
            commands::import_candidates,
            commands::get_settings,
            commands::set_settings,
            commands::app_info,
            commands::pending_link,
            commands::pending_notices,
            commands::first_render,
            commands::window_state,
            commands::remember_route,
        ])
        .build(tauri::generate_context!());
    let app = match result {
        Ok(app) => app,
        Err(err) => {
            eprintln!("mcpauth-app: {err}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| {
        // The last window closed: with a tray, the app goes on without one
        // (Quit in the tray ends it, with an exit code).
        if let tauri::RunEvent::ExitRequested {
            code: None, api, ..
        } = &event
        {
            if app.state::<Tray>().0 {
                api.prevent_exit();
            }
        }
    });
}

/// Whether the tray icon is up (and so the app can run with no window).
struct Tray(bool);
