//! The engine's one error type: every variant names what went wrong, where,
//! and carries no secret.

use std::fmt;

/// A `Result` with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An OAuth error response (RFC 6749 §5.2, §4.1.2.1; RFC 7591 §3.2.2; RFC 6750 §3).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OAuthErrorResponse {
    /// The error code, such as `invalid_grant`.
    pub error: String,
    /// The server's human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// A page about the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
}

impl fmt::Display for OAuthErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)?;
        if let Some(description) = &self.error_description {
            write!(f, ": {description}")?;
        }
        if let Some(uri) = &self.error_uri {
            write!(f, " (see {uri})")?;
        }
        Ok(())
    }
}

/// Why a `state` value in an authorization response was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateProblem {
    /// The response carried no `state`.
    Missing,
    /// No sign-in in progress has this `state` (or it expired).
    Unknown,
    /// This `state` was already used by an earlier response.
    Reused,
}

impl fmt::Display for StateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "has no state parameter",
            Self::Unknown => "has a state that matches no sign-in in progress",
            Self::Reused => "has a state that was already used",
        })
    }
}

/// Everything that can go wrong in discovery, registration, authorization and token requests.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be parsed or is not usable here.
    #[error("invalid URL `{input}`: {reason}")]
    InvalidUrl { input: String, reason: String },

    /// An MCP server URL or authorization-server endpoint is plain HTTP on a
    /// host that is not loopback (SPEC §5.1): a bearer token never goes there.
    #[error("{what} `{url}` must use https (plain http is allowed only for 127.0.0.1, ::1 and localhost); refusing to send anything there")]
    InsecureUrl { what: &'static str, url: String },

    /// The extra CA file (`--ca-file`, `MCPAUTH_CA_FILE`) cannot be used.
    #[error("{reason}")]
    CaFile { reason: String },

    /// The connection failed before an answer came back.
    #[error("could not reach {url}: {message}")]
    Transport { url: String, message: String },

    /// No answer within the timeout.
    #[error("{url} did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },

    /// The response body is larger than the cap.
    #[error("the response from {url} is larger than the {limit}-byte limit; refusing to read it")]
    BodyTooLarge { url: String, limit: usize },

    /// A redirect where none is followed (token, registration, revocation), or one that leaves the origin.
    #[error("{url} answered with a redirect to `{location}`; {why}")]
    UnexpectedRedirect {
        url: String,
        location: String,
        why: &'static str,
    },

    /// An HTTP status the step cannot use.
    #[error("{url} answered HTTP {status} {what}")]
    HttpStatus {
        url: String,
        status: u16,
        what: &'static str,
    },

    /// The server is overloaded or rate-limiting (429, 503); try again later.
    #[error("{url} is busy (HTTP {status}){}", retry_after.map(|s| format!("; it asks to retry after {s} s")).unwrap_or_default())]
    ServerBusy {
        url: String,
        status: u16,
        retry_after: Option<u64>,
    },

    /// A JSON document that does not parse or lacks a field.
    #[error("{url} returned a {document} that is not valid: at `{path}`: {message}")]
    InvalidJson {
        url: String,
        document: &'static str,
        path: String,
        message: String,
    },

    /// The URL answered, but not like an MCP server protected with OAuth.
    #[error("{url} does not look like an MCP server that uses OAuth: {reason}")]
    NotAnOAuthMcpServer { url: String, reason: String },

    /// RFC 9728 §3.3: the metadata describes another resource.
    #[error("the protected resource metadata at {metadata_url} is for `{found}`, not for `{expected}`; it cannot be trusted for this server, so nothing was sent to its authorization server")]
    ResourceMismatch {
        metadata_url: String,
        expected: String,
        found: String,
    },

    /// The protected resource metadata names no authorization server.
    #[error("the protected resource metadata at {metadata_url} lists no authorization_servers")]
    NoAuthorizationServer { metadata_url: String },

    /// The user chose an authorization server the metadata does not list.
    #[error("`{chosen}` is not one of the authorization servers this resource lists ({listed})")]
    UnlistedAuthorizationServer { chosen: String, listed: String },

    /// RFC 8414 §3.3: the document's `issuer` differs from the one the URL was built from.
    #[error("the authorization server metadata at {url} names issuer `{found}`, but it was fetched for `{expected}`; rejecting it (possible mix-up)")]
    IssuerMismatch {
        url: String,
        expected: String,
        found: String,
    },

    /// No metadata document at any of the well-known URLs.
    #[error("no authorization server metadata found for `{issuer}` (tried {tried})")]
    MetadataNotFound { issuer: String, tried: String },

    /// SPEC §1.8: PKCE with S256 must be advertised.
    #[error("the authorization server `{issuer}` does not advertise PKCE with S256 (code_challenge_methods_supported: {advertised}); MCP requires it, so MCP Auth will not sign in there")]
    PkceNotSupported { issuer: String, advertised: String },

    /// The metadata lacks an endpoint the step needs.
    #[error("the authorization server `{issuer}` has no {endpoint} in its metadata")]
    MissingEndpoint {
        issuer: String,
        endpoint: &'static str,
    },

    /// No way to get a client identity: nothing pre-registered, no metadata document, no registration endpoint.
    #[error("no client identity for `{issuer}`: it supports neither Client ID Metadata Documents nor dynamic registration; supply a pre-registered client id (--client-id)")]
    NoClientIdentity { issuer: String },

    /// Client credentials issued by one server used with another (SPEC §2.4).
    #[error("the client `{client_id}` was registered with `{registered_with}` and must not be used with `{issuer}`; register again for that server")]
    ClientIssuerMismatch {
        client_id: String,
        registered_with: String,
        issuer: String,
    },

    /// The Client ID Metadata Document URL is not usable as a client id.
    #[error("the client metadata document URL `{url}` is not usable: {reason}")]
    InvalidClientMetadataUrl { url: String, reason: String },

    /// Dynamic registration was refused.
    #[error("the authorization server refused client registration at {url}: {response}")]
    RegistrationRefused {
        url: String,
        response: OAuthErrorResponse,
    },

    /// An authorization response with a bad `state`.
    #[error("the authorization response {problem}; it was ignored: start the sign-in again")]
    State { problem: StateProblem },

    /// RFC 9207: the response came from another authorization server than the one asked.
    #[error("the authorization response names issuer `{found}` but the request went to `{expected}`; the code was discarded (possible mix-up attack)")]
    CallbackIssuerMismatch { expected: String, found: String },

    /// RFC 9207: `iss` missing while the server promised it.
    #[error("the authorization response has no `iss` although `{expected}` advertises authorization_response_iss_parameter_supported; the code was discarded")]
    CallbackIssuerMissing { expected: String },

    /// The user or the server declined the authorization request.
    #[error("the authorization server declined the sign-in: {response}")]
    AuthorizationDenied { response: OAuthErrorResponse },

    /// The authorization response carries neither a code nor an error.
    #[error("the authorization response has no `code`")]
    MissingCode,

    /// The token endpoint answered with an OAuth error.
    #[error("the authorization server refused the {grant} request: {response}")]
    TokenRefused {
        grant: &'static str,
        status: u16,
        response: OAuthErrorResponse,
    },

    /// A token response MCP Auth cannot use.
    #[error("the token response from {url} is not usable: {reason}")]
    InvalidTokenResponse { url: String, reason: String },

    /// Revocation failed.
    #[error("revocation at {url} failed: {reason}")]
    RevocationFailed { url: String, reason: String },

    /// The signing key could not be loaded or does not fit the algorithm.
    #[error("the private key is not usable: {reason}")]
    InvalidKey { reason: String },

    /// Step-up gave up after the allowed number of attempts (SPEC §4.5).
    #[error("the server still answers insufficient_scope for {operation} after {attempts} attempts (last asked for `{scopes}`); giving up")]
    StepUpExhausted {
        operation: String,
        attempts: u32,
        scopes: String,
    },

    /// The authorization server's metadata lists its grant types, and not this one.
    #[error("the authorization server `{issuer}` does not offer the {grant} grant (grant_types_supported: {offered}); nothing was sent")]
    GrantNotOffered {
        issuer: String,
        grant: &'static str,
        offered: String,
    },

    /// The person at the verification page declined (RFC 8628 §3.5 `access_denied`).
    #[error("the sign-in was declined at {issuer} (access_denied); nothing was stored. Run the command again for a new code if that was a mistake")]
    DeviceDenied { issuer: String },

    /// The device code ran out before anyone approved it (RFC 8628 §3.5 `expired_token`, or its `expires_in` passed).
    #[error("the code expired after {seconds} s without being approved at {issuer}; nothing was stored. Run the command again for a new code")]
    DeviceCodeExpired { issuer: String, seconds: u64 },

    /// A device authorization response MCP Auth will not show to a person.
    #[error("the device authorization response from {url} is not usable: {reason}")]
    InvalidDeviceAuthorization { url: String, reason: String },

    /// A workload's assertion (SEP-1933) could not be read or is not a usable JWT.
    #[error("the {source_name} is not usable: {reason}; nothing was sent")]
    InvalidAssertion { source_name: String, reason: String },

    /// An identity assertion authorization grant (ID-JAG, SEP-990) the
    /// identity provider issued that MCP Auth will not present.
    #[error("the identity assertion (ID-JAG) from {idp} is not usable: {reason}; it was not sent to the authorization server")]
    InvalidIdJag { idp: String, reason: String },

    /// The loopback redirect listener failed.
    #[error("the loopback redirect listener failed: {reason}")]
    Loopback { reason: String },

    /// The browser was not opened because the URL is not safe to hand to it.
    #[error("refusing to open `{url}` in the browser: {reason}")]
    UnsafeBrowserUrl { url: String, reason: String },
}

impl Error {
    /// The OAuth error code from the server, when the failure is one.
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            Self::TokenRefused { response, .. }
            | Self::RegistrationRefused { response, .. }
            | Self::AuthorizationDenied { response } => Some(response.error.as_str()),
            _ => None,
        }
    }

    /// How long the server asked us to wait, when it said (`Retry-After`).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::ServerBusy { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True for failures worth retrying later (network, timeouts, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Timeout { .. } | Self::ServerBusy { .. } => true,
            Self::HttpStatus { status, .. } | Self::TokenRefused { status, .. } => {
                *status == 429 || *status >= 500
            }
            _ => false,
        }
    }
}

/// What replaces a secret found in text that came from a server.
pub const REDACTED: &str = "[redacted]";

fn scrub_text(text: &mut String, secrets: &[&str]) {
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        if text.contains(secret) {
            *text = text.replace(secret, REDACTED);
        }
    }
}

impl OAuthErrorResponse {
    fn scrub(&mut self, secrets: &[&str]) {
        scrub_text(&mut self.error, secrets);
        for text in [&mut self.error_description, &mut self.error_uri]
            .into_iter()
            .flatten()
        {
            scrub_text(text, secrets);
        }
    }
}

impl Error {
    /// Removes `secrets` (what the request carried: tokens, codes, client secrets,
    /// assertions) from every part of the error a server could have written. A
    /// hostile server that echoes a secret back must not get it into our logs and
    /// messages (SPEC §5.4).
    pub fn scrub(mut self, secrets: &[&str]) -> Self {
        match &mut self {
            Error::UnexpectedRedirect { location, .. } => scrub_text(location, secrets),
            Error::InvalidJson { path, message, .. } => {
                scrub_text(path, secrets);
                scrub_text(message, secrets);
            }
            Error::TokenRefused { response, .. }
            | Error::RegistrationRefused { response, .. }
            | Error::AuthorizationDenied { response } => response.scrub(secrets),
            Error::InvalidTokenResponse { reason, .. }
            | Error::InvalidDeviceAuthorization { reason, .. }
            | Error::RevocationFailed { reason, .. }
            | Error::NotAnOAuthMcpServer { reason, .. } => scrub_text(reason, secrets),
            Error::Transport { message, .. } => scrub_text(message, secrets),
            _ => {}
        }
        self
    }
}
