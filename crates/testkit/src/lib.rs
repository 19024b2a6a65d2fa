//! Test support shared by the crates' integration tests: the real servers of
//! `tests/servers`, a driver for the authorization server's login pages, a
//! minimal MCP client, and an HTTP client that records where it went.

pub mod hostile;
mod recording;
mod servers;

pub use recording::RecordingHttp;
pub use servers::{call_tool, drive_login, jwt_claims, servers, Servers, ToolCall};
