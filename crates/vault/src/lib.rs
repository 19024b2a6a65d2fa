//! Accounts and tokens at rest (issue 3). Only the shape is here so far: the
//! crate exists so the workspace layout matches the design; nothing in it is
//! presented as working storage yet.

pub use mcpauth_core as core;
