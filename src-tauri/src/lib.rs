//! The MCP Auth desktop app: a Tauri shell around the web front end in `ui/`.
//!
//! The commands that connect the front end to `mcpauth-vault` come later; for
//! now the app opens its one window and serves the built front end from
//! `ui/dist`, embedded at compile time.

/// Builds the Tauri application and runs it until its last window closes.
///
/// Exits the process with status 1 and a message on stderr if the
/// application cannot start (for example, when no display is available).
pub fn run() {
    let result = tauri::Builder::default().run(tauri::generate_context!());
    if let Err(err) = result {
        eprintln!("mcpauth-app: {err}");
        std::process::exit(1);
    }
}
