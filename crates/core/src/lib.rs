//! The OAuth 2.1 and MCP-discovery engine of MCP Auth.
//!
//! Stateless protocol steps over an injected [`http::HttpClient`]: discovery
//! ([`discovery`]), client identity ([`registration`]), the authorization
//! request and response ([`authorize`], [`callback`], [`loopback`]), and the
//! token endpoint ([`token`]). No storage, no GUI; secrets are redacting
//! newtypes ([`secret`]).

pub mod authorize;
pub mod callback;
pub mod challenge;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod flow;
pub mod http;
pub mod idjag;
pub mod jwt;
pub mod loopback;
pub mod metadata;
pub mod network;
pub mod registration;
pub mod scopes;
pub mod secret;
pub mod token;

pub use error::{Error, OAuthErrorResponse, Result, StateProblem};
