//! The vault's error type.

/// A `Result` with the vault's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with accounts, secrets and sign-in sessions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A protocol step failed.
    #[error(transparent)]
    Protocol(#[from] mcpauth_core::Error),

    /// The account database could not be read or written.
    #[error("the account database at {path} failed: {message}")]
    Database { path: String, message: String },

    /// Files under the MCP Auth home could not be used.
    #[error("{what} {path}: {message}")]
    Io {
        what: &'static str,
        path: String,
        message: String,
    },

    /// The keyring answered with an error.
    #[error("the system keyring ({backend}) refused: {message}")]
    Keyring {
        backend: &'static str,
        message: String,
    },

    /// The keyring did not answer in time (locked, or its daemon hung).
    #[error("the system keyring did not answer within {seconds} s; it may be locked (unlock it, e.g. by signing in to your desktop) or its daemon may be hung; nothing was written in its place")]
    KeyringTimeout { seconds: u64 },

    /// The keyring holds nothing where the account says a secret is.
    #[error("the keyring has no {what} for account {account}; if this is another user's or another session's keyring, use that one; otherwise sign in again (mcpauth login)")]
    SecretMissing { account: String, what: &'static str },

    /// No account matches.
    #[error("no account matches `{selector}`; `mcpauth list` shows the accounts")]
    UnknownAccount { selector: String },

    /// Several accounts match a server URL and none is the default.
    #[error("`{selector}` matches {count} accounts ({ids}); name one by its id")]
    AmbiguousAccount {
        selector: String,
        count: usize,
        ids: String,
    },

    /// The grant is gone; only a new sign-in helps.
    #[error("account {account} needs a new sign-in: {reason}")]
    NeedsSignIn { account: String, reason: String },

    /// The sign-in at the organisation's identity provider (SEP-990) is
    /// missing or over; accounts that get ID-JAGs from it wait for a new one.
    #[error("a new sign-in at your organisation's identity provider {issuer} is needed: {reason}. Sign in there again with `mcpauth login <server> --idp {issuer} --idp-client-id <client>` (or in the app)")]
    NeedsIdpSignIn { issuer: String, reason: String },

    /// A sign-in completion that matches no sign-in in progress.
    #[error("no sign-in in progress matches this answer (it may have expired or been used already); start the sign-in again")]
    NoSuchSignIn,

    /// Invalid input from the caller.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn db(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        let mut message = e.to_string();
        // SQLite says "database or disk is full"; say what to do about it.
        if message.contains("disk is full") {
            message.push_str("; free some space on that disk and try again");
        }
        Self::Database {
            path: path.display().to_string(),
            message,
        }
    }

    pub(crate) fn io(
        what: &'static str,
        path: &std::path::Path,
        e: impl std::fmt::Display,
    ) -> Self {
        let mut message = e.to_string();
        // Say what to do about the two a user can mend.
        if message.contains("Read-only file system") {
            message.push_str(
                "; the MCP Auth home must be writable to record a refresh or a sign-in \
                 (or set MCPAUTH_HOME to a writable directory); tokens already held are still served",
            );
        } else if message.contains("No space left") {
            message.push_str("; free some space on that disk and try again");
        }
        Self::Io {
            what,
            path: path.display().to_string(),
            message,
        }
    }
}
