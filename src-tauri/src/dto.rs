//! What crosses the IPC boundary. TypeScript for each type is generated into
//! `ui/src/bindings.ts` (committed); a test fails when it is stale.
//! No type here carries a token, except the one `reveal_token` returns.

use mcpauth_vault::model::{Account, AccountStatus, Activity};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// An error as the front end shows it: a kind to branch on, a sentence to show.
#[derive(Debug, Serialize, TS)]
pub struct AppError {
    pub kind: String,
    pub message: String,
    /// For a failed discovery: the step that failed (as in [`DiscoveryStep::name`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub step: Option<String>,
}

impl From<mcpauth_vault::Error> for AppError {
    fn from(e: mcpauth_vault::Error) -> Self {
        use mcpauth_vault::Error as E;
        let kind = match &e {
            E::NeedsSignIn { .. } => "needs_sign_in",
            E::UnknownAccount { .. } | E::AmbiguousAccount { .. } => "no_such_account",
            E::Keyring { .. } | E::KeyringTimeout { .. } | E::SecretMissing { .. } => "keyring",
            E::NoSuchSignIn => "no_such_sign_in",
            E::Protocol(mcpauth_core::Error::State { .. }) => "no_such_sign_in",
            E::Protocol(_) => "protocol",
            _ => "failure",
        };
        Self {
            kind: kind.into(),
            message: e.to_string(),
            step: None,
        }
    }
}

impl From<mcpauth_core::Error> for AppError {
    fn from(e: mcpauth_core::Error) -> Self {
        mcpauth_vault::Error::from(e).into()
    }
}

impl AppError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            step: None,
        }
    }
}

/// An account's state, flattened for the front end.
#[derive(Debug, Clone, Serialize, TS)]
pub struct StatusView {
    /// active, refreshing, needs_sign_in, upgrading, error, signed_out
    pub state: String,
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
    pub reason: Option<String>,
    #[ts(type = "number | null")]
    pub retry_at: Option<i64>,
}

impl From<&AccountStatus> for StatusView {
    fn from(s: &AccountStatus) -> Self {
        let mut view = StatusView {
            state: s.name().to_string(),
            expires_at: None,
            reason: None,
            retry_at: None,
        };
        match s {
            AccountStatus::Active { expires_at } => view.expires_at = *expires_at,
            AccountStatus::NeedsSignIn { reason } => view.reason = Some(reason.clone()),
            AccountStatus::Upgrading { scopes } => {
                view.reason = Some(format!("asking for {scopes}"))
            }
            AccountStatus::Error { message, retry_at } => {
                view.reason = Some(message.clone());
                view.retry_at = *retry_at;
            }
            AccountStatus::Refreshing | AccountStatus::SignedOut => {}
        }
        view
    }
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// One account, as the list and the detail screen show it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    /// user or machine
    pub kind: String,
    pub server_url: String,
    pub resource: String,
    pub issuer: String,
    pub subject: Option<String>,
    pub client_id: String,
    /// pre_registered, metadata_document or dynamic
    pub registration: String,
    pub client_auth: String,
    pub status: StatusView,
    pub granted_scopes: Vec<String>,
    pub offered_scopes: Vec<String>,
    pub requested_scopes: Vec<String>,
    pub token_type: String,
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
    #[ts(type = "number | null")]
    pub issued_at: Option<i64>,
    #[ts(type = "number | null")]
    pub last_refresh_at: Option<i64>,
    #[ts(type = "number | null")]
    pub next_refresh_at: Option<i64>,
    pub has_refresh_token: bool,
    /// The account whose sign-in this one shares (its refresh token, asked
    /// for this account's server: RFC 8707 §2.2).
    pub grant_holder: Option<String>,
    pub is_default: bool,
    /// Workload identity (JWT bearer): where each token request reads the
    /// platform's JWT.
    pub assertion_source: Option<AssertionSourceView>,
}

/// Where a machine account's JWT bearer grant gets its JWT: a workload's
/// platform token, or an ID-JAG from the organisation's identity provider.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AssertionSourceView {
    /// `file` or `env` (workload identity), or `idp` (enterprise-managed, SEP-990)
    pub kind: String,
    /// The file's path, the environment variable's name, or the identity
    /// provider's issuer.
    pub name: String,
    /// For `idp`: MCP Auth's client id at the identity provider.
    pub idp_client_id: Option<String>,
    /// For `idp`: where the ID token comes from: `sign-in` (MCP Auth's own,
    /// in the keyring), `file` or `env`.
    pub id_token_kind: Option<String>,
    /// For an `idp` ID token in a file or variable: its path or name.
    pub id_token_name: Option<String>,
}

impl From<&mcpauth_vault::AssertionSource> for AssertionSourceView {
    fn from(source: &mcpauth_vault::AssertionSource) -> Self {
        match source {
            mcpauth_vault::AssertionSource::File(path) => Self::workload("file", path.display()),
            mcpauth_vault::AssertionSource::Env(name) => Self::workload("env", name),
            mcpauth_vault::AssertionSource::IdJag(link) => {
                let (kind, name) = match &link.id_token {
                    mcpauth_vault::IdTokenSource::SignIn => ("sign-in", None),
                    mcpauth_vault::IdTokenSource::File(p) => {
                        ("file", Some(p.display().to_string()))
                    }
                    mcpauth_vault::IdTokenSource::Env(n) => ("env", Some(n.clone())),
                };
                Self {
                    kind: "idp".into(),
                    name: link.issuer.clone(),
                    idp_client_id: Some(link.client_id.clone()),
                    id_token_kind: Some(kind.into()),
                    id_token_name: name,
                }
            }
        }
    }
}

impl AssertionSourceView {
    fn workload(kind: &str, name: impl std::fmt::Display) -> Self {
        Self {
            kind: kind.into(),
            name: name.to_string(),
            idp_client_id: None,
            id_token_kind: None,
            id_token_name: None,
        }
    }
}

impl AccountView {
    pub fn new(a: &Account, min_skew: i64) -> Self {
        let enum_name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
        Self {
            id: a.id.clone(),
            name: a.name.clone(),
            kind: enum_name(serde_json::to_value(a.kind).unwrap_or_default()),
            server_url: a.server_url.clone(),
            resource: a.resource.clone(),
            issuer: a.issuer.clone(),
            subject: a.subject.clone(),
            client_id: a.client_id.clone(),
            registration: enum_name(serde_json::to_value(a.registration).unwrap_or_default()),
            client_auth: a.client_auth.clone(),
            status: (&a.status).into(),
            granted_scopes: words(&a.granted_scopes),
            offered_scopes: words(&a.offered_scopes),
            requested_scopes: words(&a.requested_scopes),
            token_type: a.token_type.clone(),
            expires_at: a.expires_at,
            issued_at: a.issued_at,
            last_refresh_at: a.last_refresh_at,
            next_refresh_at: a.next_refresh_at(min_skew),
            has_refresh_token: a.has_refresh_token,
            grant_holder: a.grant_holder.clone(),
            is_default: a.is_default,
            assertion_source: a.assertion_source.as_ref().map(Into::into),
        }
    }
}

/// A step of an account's history.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ActivityView {
    #[ts(type = "number")]
    pub at: i64,
    pub kind: String,
    pub summary: String,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The step's HTTP requests and answers, secrets already replaced by `[redacted]`.
    pub exchanges: Vec<ExchangeView>,
}

/// One HTTP request and its answer, redacted by the vault.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ExchangeView {
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<String>,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    #[ts(type = "number")]
    pub ms: u64,
}

impl From<&Activity> for ActivityView {
    fn from(a: &Activity) -> Self {
        Self {
            at: a.at,
            kind: a.kind.clone(),
            summary: a.summary.clone(),
            error: a.error.clone(),
            error_description: a.error_description.clone(),
            exchanges: a
                .exchanges
                .iter()
                .map(|e| ExchangeView {
                    method: e.method.clone(),
                    url: e.url.clone(),
                    request_headers: e.request_headers.clone(),
                    request_body: e.request_body.clone(),
                    status: e.status,
                    response_headers: e.response_headers.clone(),
                    response_body: e.response_body.clone(),
                    error: e.error.clone(),
                    ms: e.ms,
                })
                .collect(),
        }
    }
}

/// The account detail screen.
#[derive(Debug, Serialize, TS)]
pub struct AccountDetail {
    pub account: AccountView,
    pub activity: Vec<ActivityView>,
    /// The access token's first characters and `****`.
    pub token_masked: Option<String>,
    /// The token's audience, when it is a JWT.
    pub audience: Option<String>,
}

/// What signing in to a server will involve, before the browser opens.
#[derive(Debug, Serialize, TS)]
pub struct DiscoveryPreview {
    pub mcp_url: String,
    pub resource: String,
    pub resource_metadata_url: Option<String>,
    pub authorization_servers: Vec<String>,
    pub issuer: String,
    pub metadata_url: Option<String>,
    /// The registration the sign-in will use: pre_registered, metadata_document or dynamic.
    pub registration: String,
    pub offered_scopes: Vec<String>,
    /// The scopes the server's challenge asked for (pre-ticked).
    pub challenged_scopes: Vec<String>,
    pub legacy: bool,
    /// Every step, in order, with what it found.
    pub steps: Vec<DiscoveryStep>,
    /// The accounts already signed in to this server (ids), so that a second
    /// one is made on purpose only.
    pub existing_accounts: Vec<String>,
    /// The accounts at the same authorization server whose sign-in could
    /// add this server without a browser (RFC 8707 §2.2), newest first.
    pub share_offers: Vec<ShareOfferView>,
}

/// An account whose sign-in could add the server being discovered.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ShareOfferView {
    pub account_id: String,
    /// Why its sign-in cannot serve this server, when it cannot.
    pub unavailable: Option<String>,
    /// What the authorization server answered the last time it was asked
    /// to accept this account's client's refresh token for another server:
    /// "accepted", "refused", or null when it never was.
    pub answered_before: Option<String>,
    /// The authorization server's answer then, in words.
    pub detail: Option<String>,
}

impl From<&mcpauth_vault::ShareOffer> for ShareOfferView {
    fn from(offer: &mcpauth_vault::ShareOffer) -> Self {
        Self {
            account_id: offer.holder.id.clone(),
            unavailable: offer.unavailable.clone(),
            answered_before: offer
                .answered_before
                .as_ref()
                .map(|(accepted, _)| if *accepted { "accepted" } else { "refused" }.into()),
            detail: offer.answered_before.as_ref().map(|(_, d)| d.clone()),
        }
    }
}

/// What adding a server with another account's sign-in did.
#[derive(Debug, Serialize, TS)]
pub struct SharedSignInResult {
    /// The new account, when the authorization server accepted.
    pub account: Option<AccountView>,
    /// The account whose sign-in was offered, as it is now: after a
    /// refusal it may need a sign-in of its own (some servers spend the
    /// refresh token as they refuse).
    pub holder: AccountView,
    /// The authorization server's refusal, and what it cost, in words.
    pub refused: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct DiscoveryStep {
    pub name: String,
    pub detail: String,
    /// False when the server published nothing for this step and defaults
    /// stand in (a 2025-03-26 server's missing resource metadata).
    pub found: bool,
}

/// A discovery step that resolved, sent while `discover` runs (event `discovery-step`).
#[derive(Debug, Clone, Serialize, TS)]
pub struct DiscoveryStepEvent {
    /// The id the front end gave its `discover` call.
    pub request: String,
    /// 0 for the first step.
    pub index: u32,
    pub step: DiscoveryStep,
}

/// How to sign in.
#[derive(Debug, Deserialize, TS)]
pub struct SignInOptions {
    pub mcp_url: String,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    /// loopback or deep_link
    pub redirect: String,
    pub client_id: Option<String>,
    /// Read straight into the redacting newtype: `Debug` never shows it.
    #[ts(type = "string | null")]
    pub client_secret: Option<mcpauth_core::secret::ClientSecret>,
    pub authorization_server: Option<String>,
    /// Re-authorize this account instead of adding one.
    pub account: Option<String>,
}

/// A sign-in waiting for the browser.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SignInStarted {
    pub id: String,
    pub authorization_server_host: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// How the browser was opened, or why it could not be.
    pub browser: String,
    pub authorization_url: String,
}

/// What a sign-in ended with (the `sign-in-finished` event).
#[derive(Debug, Clone, Serialize, TS)]
pub struct SignInFinished {
    pub id: Option<String>,
    pub account: Option<AccountView>,
    pub error: Option<String>,
}

/// A browser sign-in started and not finished, as the window waits for it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SignInProgress {
    pub started: SignInStarted,
    /// "add", "reauth" or "upgrade".
    pub purpose: String,
    /// The account signed in again or upgraded.
    pub account_id: Option<String>,
    /// Its granted scopes when the sign-in started.
    pub before: Vec<String>,
    /// The scopes asked for.
    pub asked: Vec<String>,
    pub server_url: String,
}

/// A sign-in that finished while no window was open.
#[derive(Debug, Clone, Serialize, TS)]
pub struct MissedFinish {
    pub progress: Option<SignInProgress>,
    pub event: SignInFinished,
}

/// What a new window's page picks up from the backend.
#[derive(Debug, Serialize, TS)]
pub struct WindowState {
    pub sign_ins: Vec<SignInProgress>,
    pub finished: Vec<MissedFinish>,
}

/// An upgrade's outcome.
#[derive(Debug, Serialize, TS)]
pub struct UpgradeResult {
    /// Granted by refresh; otherwise a browser sign-in was started.
    pub granted: bool,
    pub account: Option<AccountView>,
    pub sign_in: Option<SignInStarted>,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, TS)]
pub struct SignOutResult {
    pub account: String,
    pub revocation_supported: bool,
    pub refresh_token: String,
    pub access_token: String,
    pub fully_revoked: bool,
    /// The accounts that shared this account's sign-in: each now needs one
    /// of its own.
    pub shared_ended: Vec<String>,
}

/// A machine account (client credentials).
#[derive(Debug, Deserialize, TS)]
pub struct MachineAccountOptions {
    pub mcp_url: String,
    pub name: Option<String>,
    pub client_id: String,
    #[ts(type = "string | null")]
    pub client_secret: Option<mcpauth_core::secret::ClientSecret>,
    /// A PEM or JWK private key's text (read into the redacting newtype).
    #[ts(type = "string | null")]
    pub private_key: Option<mcpauth_core::secret::PrivateKeyMaterial>,
    pub signing_alg: Option<String>,
    pub scopes: Vec<String>,
    /// Tokens from ID-JAGs of this identity provider (organisation sign-in,
    /// SEP-990) instead of client credentials; the client above then
    /// authenticates the JWT bearer grant.
    #[serde(default)]
    #[ts(optional)]
    pub idp: Option<IdentityProvider>,
}

/// An organisation's identity provider (SEP-990) and MCP Auth's client there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IdentityProvider {
    pub issuer: String,
    pub client_id: String,
}

/// A sign-in at an identity provider, from Settings.
#[derive(Debug, Deserialize, TS)]
pub struct IdentityProviderOptions {
    pub issuer: String,
    pub client_id: String,
    /// For a confidential client at the IdP: kept in the keyring.
    #[ts(type = "string | null")]
    pub client_secret: Option<mcpauth_core::secret::ClientSecret>,
}

/// An identity provider as Settings shows it.
#[derive(Debug, Serialize, TS)]
pub struct IdentityProviderView {
    pub issuer: String,
    pub client_id: String,
    /// Who MCP Auth's sign-in there names (email, else subject); `null` when
    /// it holds none that can be used or renewed.
    pub signed_in_as: Option<String>,
    /// The ID token's expiry (Unix seconds); renewed with the refresh token.
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
    /// Where the ID token comes from when it is not MCP Auth's sign-in there
    /// ("the file …", "the environment variable …", set with `mcpauth login
    /// --idp --id-token-file/--id-token-env`); `null` for MCP Auth's own.
    pub id_token_from: Option<String>,
    /// The servers whose accounts get their tokens through it.
    pub servers: Vec<String>,
}

/// The `idp-sign-in-started` event: the page the browser was sent to.
#[derive(Debug, Clone, Serialize, TS)]
pub struct IdpSignInStarted {
    pub issuer: String,
    pub authorization_url: String,
    /// "opened with …", or why no browser opened.
    pub browser: String,
}

#[derive(Debug, Serialize, TS)]
pub struct ExportPreview {
    pub target: String,
    pub path: String,
    pub diff: String,
    pub unchanged: bool,
    /// The command the entry runs: mcpauth's absolute path, or `mcpauth` when
    /// it was found neither beside the app nor on PATH.
    pub command: String,
    /// False when the command was not found (the entry would not start).
    pub command_found: bool,
}

#[derive(Debug, Serialize, TS)]
pub struct ImportCandidateView {
    pub source: String,
    pub name: String,
    pub url: String,
    pub config_path: String,
    pub signed_in: bool,
}

/// The app's settings, kept in settings.json beside the account database.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct Settings {
    /// loopback or deep_link
    pub redirect: String,
    pub client_metadata_url: Option<String>,
    /// The smallest refresh margin, in seconds (applies from the next start).
    #[ts(type = "number")]
    pub refresh_skew_secs: u64,
    /// Start (in the tray) when the user logs in. Read from and written to the
    /// system's login items, not only this file.
    #[serde(default)]
    pub start_at_login: bool,
    /// The identity providers signed in at from Settings. Only the commands
    /// for them change this list; `set_settings` keeps it as it is.
    #[serde(default)]
    #[ts(as = "Option<Vec<IdentityProvider>>", optional)]
    pub identity_providers: Vec<IdentityProvider>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            redirect: "loopback".into(),
            client_metadata_url: None,
            refresh_skew_secs: 60,
            start_at_login: false,
            identity_providers: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize, TS)]
pub struct AppInfo {
    pub version: String,
    pub storage_backend: String,
    pub home: String,
}

/// What changed in the vault (event `vault-changed`).
#[derive(Debug, Clone, Serialize, TS)]
pub struct VaultChange {
    /// `changed` (anything, maybe another process), `refreshed`, `needs_sign_in`, `failed`.
    pub kind: String,
    pub account: Option<String>,
    /// Why, for `needs_sign_in` and `failed`.
    pub message: Option<String>,
}

impl From<&mcpauth_vault::scheduler::VaultEvent> for VaultChange {
    fn from(e: &mcpauth_vault::scheduler::VaultEvent) -> Self {
        use mcpauth_vault::scheduler::VaultEvent as E;
        let (kind, account, message) = match e {
            E::Changed => ("changed", None, None),
            E::Refreshed { account } => ("refreshed", Some(account.clone()), None),
            E::NeedsSignIn { account, reason } => {
                ("needs_sign_in", Some(account.clone()), Some(reason.clone()))
            }
            E::Failed { account, message } => {
                ("failed", Some(account.clone()), Some(message.clone()))
            }
        };
        Self {
            kind: kind.into(),
            account,
            message,
        }
    }
}

/// A `mcpauth://signin?url=…` link, waiting for the user's confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SignInLink {
    pub url: String,
    pub scopes: Vec<String>,
}

/// A moment of the front end's start-up, for the start-up timeline the app
/// logs with its first render (`startup`). `at` is in milliseconds since the
/// Unix epoch (`performance.timeOrigin + performance.now()`).
#[derive(Debug, Clone, Deserialize, TS)]
pub struct StartupMark {
    pub name: String,
    pub at: f64,
}

/// The TypeScript for every IPC type, in one file.
pub fn bindings() -> String {
    let cfg = ts_rs::Config::default();
    let decls = [
        AppError::decl(&cfg),
        StatusView::decl(&cfg),
        AssertionSourceView::decl(&cfg),
        AccountView::decl(&cfg),
        ExchangeView::decl(&cfg),
        ActivityView::decl(&cfg),
        AccountDetail::decl(&cfg),
        DiscoveryStep::decl(&cfg),
        DiscoveryStepEvent::decl(&cfg),
        DiscoveryPreview::decl(&cfg),
        SignInOptions::decl(&cfg),
        SignInStarted::decl(&cfg),
        SignInFinished::decl(&cfg),
        SignInProgress::decl(&cfg),
        MissedFinish::decl(&cfg),
        WindowState::decl(&cfg),
        UpgradeResult::decl(&cfg),
        SignOutResult::decl(&cfg),
        ShareOfferView::decl(&cfg),
        SharedSignInResult::decl(&cfg),
        MachineAccountOptions::decl(&cfg),
        IdentityProvider::decl(&cfg),
        IdentityProviderOptions::decl(&cfg),
        IdentityProviderView::decl(&cfg),
        IdpSignInStarted::decl(&cfg),
        ExportPreview::decl(&cfg),
        ImportCandidateView::decl(&cfg),
        Settings::decl(&cfg),
        AppInfo::decl(&cfg),
        SignInLink::decl(&cfg),
        VaultChange::decl(&cfg),
        StartupMark::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from src-tauri/src/dto.rs by `cargo test -p mcpauth-app` with UPDATE_BINDINGS=1. Do not edit.\n",
    );
    for decl in decls {
        out.push_str("\nexport ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bindings_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
        let fresh = super::bindings();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).expect("write bindings");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/bindings.ts is stale: run `UPDATE_BINDINGS=1 cargo test -p mcpauth-app bindings` and commit it"
        );
    }
}
