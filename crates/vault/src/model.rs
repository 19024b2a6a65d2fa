//! What the vault stores: account records (not secret), the token bundle kept
//! in the keyring (secret), the status model the front ends render, and the
//! activity log.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use mcpauth_core::registration::RegistrationKind;

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A person's sign-in, or a machine account (client credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    User,
    Machine,
}

/// Where an account stands, as the front ends show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AccountStatus {
    /// Usable; the access token expires at `expires_at` (Unix seconds), if known.
    Active { expires_at: Option<i64> },
    /// A refresh is running.
    Refreshing,
    /// The grant is gone (revoked, expired refresh token, …).
    NeedsSignIn { reason: String },
    /// Asking for more scopes.
    Upgrading { scopes: String },
    /// The last refresh failed for a passing reason; it is tried again at `retry_at`.
    Error {
        message: String,
        retry_at: Option<i64>,
    },
    /// Signed out; the record is kept only until it is deleted.
    SignedOut,
}

impl AccountStatus {
    /// A short machine-readable name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Active { .. } => "active",
            Self::Refreshing => "refreshing",
            Self::NeedsSignIn { .. } => "needs_sign_in",
            Self::Upgrading { .. } => "upgrading",
            Self::Error { .. } => "error",
            Self::SignedOut => "signed_out",
        }
    }
}

/// An account record: everything about a sign-in except its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Short stable id (8 characters).
    pub id: String,
    /// The user's label for it.
    pub name: String,
    pub kind: AccountKind,
    /// The MCP server URL (canonical).
    pub server_url: String,
    /// The `resource` tokens are requested for.
    pub resource: String,
    /// The authorization server this account's client belongs to.
    pub issuer: String,
    pub client_id: String,
    pub registration: RegistrationKind,
    /// `none`, `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
    pub client_auth: String,
    /// The JWS algorithm of a `private_key_jwt` key.
    pub signing_alg: Option<String>,
    pub redirect_uri: Option<String>,
    /// Who it is signed in as (from the ID token or the access token), when known.
    pub subject: Option<String>,
    pub requested_scopes: String,
    pub granted_scopes: String,
    pub offered_scopes: String,
    pub token_type: String,
    /// Access token expiry, Unix seconds.
    pub expires_at: Option<i64>,
    pub issued_at: Option<i64>,
    pub has_refresh_token: bool,
    pub status: AccountStatus,
    pub last_refresh_at: Option<i64>,
    /// The default account of its server.
    pub is_default: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped on every token write; the keyring bundle carries the same number.
    pub generation: i64,
    /// A workload identity account's assertion source (SEP-1933): its tokens
    /// come from the JWT bearer grant, not from client credentials.
    pub assertion_source: Option<crate::workload::AssertionSource>,
    /// The thumbprint (RFC 7638 `jkt`) of the account's DPoP key (RFC 9449),
    /// whose private half is in the keyring. With `token_type` `DPoP`, the
    /// tokens work only with proofs of that key: they are bound to this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The account whose sign-in this one shares (one refresh token at one
    /// authorization server, asked for this account's resource: RFC 8707
    /// §2.2). Its refresh token stays with that account alone, since the
    /// server may rotate it on every use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_holder: Option<String>,
}

impl Account {
    /// True when the account's token is DPoP-bound (RFC 9449): it works only
    /// with proofs of the account's key.
    pub fn is_dpop_bound(&self) -> bool {
        self.token_type
            .eq_ignore_ascii_case(mcpauth_core::dpop::SCHEME)
    }

    /// When the broker will next refresh (expiry minus the skew), if it knows.
    pub fn next_refresh_at(&self, min_skew_secs: i64) -> Option<i64> {
        let expires = self.expires_at?;
        Some(expires - skew_secs(self.issued_at, expires, min_skew_secs))
    }

    /// True when this account is for the MCP server whose canonical URL is
    /// `canonical` (SPEC §3.3): `server_url` is kept as entered, so
    /// `https://h/mcp/` and `https://h/mcp` are one server here.
    pub fn serves(&self, canonical: &str) -> bool {
        url::Url::parse(&self.server_url)
            .map(|u| mcpauth_core::discovery::canonical_resource(&u) == canonical)
            .unwrap_or(false)
    }
}

/// The refresh margin: the larger of the minimum and a tenth of the token's lifetime.
pub fn skew_secs(issued_at: Option<i64>, expires_at: i64, min_skew_secs: i64) -> i64 {
    let lifetime = issued_at.map(|i| (expires_at - i).max(0)).unwrap_or(0);
    min_skew_secs.max(lifetime / 10)
}

/// The tokens of one account, kept as one keyring item so they change together.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenBundle {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub token_type: String,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub issued_at: Option<i64>,
    /// The server gave no lifetime (no `expires_in`, not a JWT with `exp`):
    /// `expires_at` is an assumption, used to refresh in time, not a verdict.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expiry_assumed: bool,
    #[serde(default)]
    pub scopes: String,
    /// Matches [`Account::generation`] once the record is written.
    pub generation: i64,
}

impl std::fmt::Debug for TokenBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBundle")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field("expires_at", &self.expires_at)
            .field("expiry_assumed", &self.expiry_assumed)
            .field("generation", &self.generation)
            .finish()
    }
}

impl Drop for TokenBundle {
    fn drop(&mut self) {
        self.access_token.zeroize();
        if let Some(t) = self.refresh_token.as_mut() {
            t.zeroize();
        }
        if let Some(t) = self.id_token.as_mut() {
            t.zeroize();
        }
    }
}

impl TokenBundle {
    /// True when the access token is good for at least the skew.
    pub fn is_fresh(&self, now: i64, min_skew_secs: i64) -> bool {
        match self.expires_at {
            None => true,
            Some(exp) => now + skew_secs(self.issued_at, exp, min_skew_secs) < exp,
        }
    }
}

/// A client credential kept in the keyring: a secret, or a private key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClientCredential {
    Secret {
        value: String,
    },
    PrivateKey {
        pem_or_jwk: String,
        alg: Option<String>,
    },
}

impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret { .. } => f.write_str("ClientCredential::Secret([redacted])"),
            Self::PrivateKey { alg, .. } => {
                write!(f, "ClientCredential::PrivateKey({alg:?}, [redacted])")
            }
        }
    }
}

impl Drop for ClientCredential {
    fn drop(&mut self) {
        match self {
            Self::Secret { value } => value.zeroize(),
            Self::PrivateKey { pem_or_jwk, .. } => pem_or_jwk.zeroize(),
        }
    }
}

/// One step in an account's history, for the app's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub at: i64,
    /// `discovery`, `sign_in`, `refresh`, `upgrade`, `step_up`, `revocation`, `sign_out`, `error`.
    pub kind: String,
    pub summary: String,
    /// The server's `error` code, when the step failed with one.
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The HTTP exchanges of this step, redacted (crate::exchanges).
    #[serde(default)]
    pub exchanges: Vec<crate::exchanges::Exchange>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_is_the_larger_of_minimum_and_a_tenth() {
        assert_eq!(skew_secs(Some(0), 3600, 60), 360);
        assert_eq!(skew_secs(Some(0), 300, 60), 60);
        assert_eq!(skew_secs(None, 300, 60), 60);
    }

    #[test]
    fn freshness() {
        let bundle = TokenBundle {
            access_token: "secret-at".into(),
            refresh_token: Some("secret-rt".into()),
            id_token: None,
            token_type: "Bearer".into(),
            expires_at: Some(1000),
            issued_at: Some(0),
            expiry_assumed: false,
            scopes: String::new(),
            generation: 1,
        };
        assert!(bundle.is_fresh(800, 60));
        assert!(!bundle.is_fresh(900, 60));
        let debug = format!("{bundle:?}");
        assert!(!debug.contains("secret-at") && !debug.contains("secret-rt"));
        let cred = ClientCredential::Secret { value: "cs".into() };
        assert!(!format!("{cred:?}").contains("cs\""));
    }
}
