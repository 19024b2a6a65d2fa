//! Test support shared by the crates' integration tests: the real servers of
//! `tests/servers`, a driver for the authorization server's login pages, a
//! minimal MCP client, and an HTTP client that records where it went.

pub mod hostile;
pub mod mcp_mock;
pub mod raw_http;
mod recording;
pub mod relay;
mod servers;

pub use recording::RecordingHttp;
pub use servers::{call_tool, drive_login, jwt_claims, servers, Servers, ToolCall};

/// Every file under `dir`, read whole (unreadable ones left out): for scanning
/// a home directory for secrets.
pub fn all_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path, bytes));
            }
        }
    }
    out
}
