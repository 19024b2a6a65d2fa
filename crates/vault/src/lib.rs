//! Accounts and tokens at rest for MCP Auth, shared by the app and the
//! command-line tool: account records in SQLite, secrets only in the OS
//! keyring, a refresh broker that refreshes at most once per expiry across
//! processes, and sign-in sessions.

mod broker;
pub mod browser;
mod db;
mod device;
mod dpop;
pub mod error;
pub mod exchanges;
pub mod export;
pub mod idp;
pub mod import;
pub mod links;
pub mod model;
pub mod scheduler;
pub mod secrets;
mod shared_grant;
mod signin;
pub mod workload;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcpauth_core::discovery::{canonical_resource, Discovery};
use mcpauth_core::http::{HttpClient, ReqwestHttp};
use mcpauth_core::jwt::{SigningAlgorithm, SigningKey};
use mcpauth_core::registration::{ClientAuth, ClientRegistration};
use mcpauth_core::secret::{ClientSecret, PrivateKeyMaterial};
use rand::Rng;

pub use broker::{describe_revocation, SignOutReport, UpgradeOutcome};
pub use device::{DeviceSignIn, DeviceSignInRequest};
pub use error::{Error, Result};
pub use idp::{IdTokenSource, IdpIdentity, IdpLink};
pub use model::{Account, AccountKind, AccountStatus, Activity, ClientCredential, TokenBundle};
pub use shared_grant::{ShareOffer, SharedSignIn};
pub use signin::{ClientChoice, MachineAccountRequest, RedirectMode, SignIn, SignInRequest};
pub use workload::AssertionSource;

use db::Db;
use secrets::{KeyringStore, PlaintextStore, SecretStore};

/// Where secrets go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretBackend {
    /// The OS keyring (the default, and the only store unless the user opts out).
    Keyring,
    /// A 0600 file under the MCP Auth home; only when explicitly chosen.
    Plaintext,
}

/// How to open the vault.
#[derive(Clone)]
pub struct VaultOptions {
    /// The directory for all state; `MCPAUTH_HOME`, else the platform data directory.
    pub home: PathBuf,
    /// The keyring service name; `MCPAUTH_KEYRING_SERVICE`, default `mcpauth`.
    pub keyring_service: String,
    /// How long a keyring call may take.
    pub keyring_timeout: Duration,
    pub secret_backend: SecretBackend,
    /// The smallest refresh margin (the broker uses the larger of this and a tenth of the lifetime).
    pub min_skew: Duration,
    /// Attempts for a refresh that fails for a passing reason.
    pub refresh_attempts: u32,
    /// How long a sign-in may stay pending.
    pub sign_in_timeout: Duration,
    pub http: Option<Arc<dyn HttpClient>>,
}

impl std::fmt::Debug for VaultOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultOptions")
            .field("home", &self.home)
            .field("keyring_service", &self.keyring_service)
            .field("secret_backend", &self.secret_backend)
            .finish_non_exhaustive()
    }
}

impl VaultOptions {
    /// Options from the environment (`MCPAUTH_HOME`, `MCPAUTH_KEYRING_SERVICE`,
    /// `MCPAUTH_KEYRING_TIMEOUT` in seconds, `MCPAUTH_SECRET_STORE=plaintext`).
    pub fn from_env() -> Result<Self> {
        let home = match std::env::var_os("MCPAUTH_HOME") {
            Some(h) if !h.is_empty() => PathBuf::from(h),
            _ => dirs::data_dir()
                .ok_or_else(|| {
                    Error::Invalid("no data directory on this platform; set MCPAUTH_HOME".into())
                })?
                .join("mcpauth"),
        };
        let secret_backend = match std::env::var("MCPAUTH_SECRET_STORE").ok().as_deref() {
            None | Some("") | Some("keyring") => SecretBackend::Keyring,
            Some("plaintext") => SecretBackend::Plaintext,
            Some(other) => {
                return Err(Error::Invalid(format!(
                    "MCPAUTH_SECRET_STORE is `{other}`; use `keyring` (the default) or `plaintext`"
                )))
            }
        };
        let keyring_timeout = match std::env::var("MCPAUTH_KEYRING_TIMEOUT") {
            Ok(s) => Duration::from_secs(s.parse().map_err(|_| {
                Error::Invalid(format!(
                    "MCPAUTH_KEYRING_TIMEOUT is `{s}`, not a number of seconds"
                ))
            })?),
            Err(_) => Duration::from_secs(4),
        };
        Ok(Self {
            home,
            keyring_service: std::env::var("MCPAUTH_KEYRING_SERVICE")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "mcpauth".into()),
            keyring_timeout,
            secret_backend,
            min_skew: Duration::from_secs(60),
            refresh_attempts: 3,
            sign_in_timeout: Duration::from_secs(600),
            http: None,
        })
    }
}

/// The shared state of MCP Auth.
pub struct Vault {
    home: PathBuf,
    db: Mutex<Db>,
    secrets: Arc<dyn SecretStore>,
    /// Made on first use: `mcpauth token` with a fresh token never needs it.
    http: std::sync::OnceLock<Arc<dyn HttpClient>>,
    options: VaultOptions,
    sign_ins: signin::SignIns,
    /// The token bundles this process last read or wrote, so that a fresh token
    /// is served without a keyring round trip (the stdio proxy asks for one per
    /// message). Used only while the record's generation says it is current.
    bundles: Mutex<std::collections::HashMap<String, TokenBundle>>,
    /// The DPoP keys this process has read, by account (see [`dpop`]).
    dpop_keys: Mutex<std::collections::HashMap<String, Arc<mcpauth_core::dpop::DpopKey>>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

fn create_private_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io("cannot create", path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Only when needed: a home that is already private but read-only (a
        // read-only mount) must still open, so the grants in it stay usable.
        let mode = std::fs::metadata(path)
            .map_err(|e| Error::io("cannot read", path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io("cannot restrict", path, e))?;
        }
    }
    Ok(())
}

impl Vault {
    /// Opens the vault with options from the environment.
    pub fn open_default() -> Result<Self> {
        Self::open(VaultOptions::from_env()?)
    }

    /// Opens (creating if needed) the vault.
    pub fn open(options: VaultOptions) -> Result<Self> {
        create_private_dir(&options.home)?;
        create_private_dir(&options.home.join("locks"))?;
        let db = Db::open(&options.home.join("accounts.sqlite3"))?;
        let secrets: Arc<dyn SecretStore> = match options.secret_backend {
            SecretBackend::Keyring => Arc::new(KeyringStore::new(
                options.keyring_service.clone(),
                options.keyring_timeout,
            )),
            SecretBackend::Plaintext => Arc::new(PlaintextStore::new(
                options.home.join("secrets.insecure.json"),
            )),
        };
        let http = std::sync::OnceLock::new();
        if let Some(h) = &options.http {
            let capturing: Arc<dyn HttpClient> = Arc::new(exchanges::CapturingHttp::new(h.clone()));
            let _ = http.set(capturing);
        }
        Ok(Self {
            home: options.home.clone(),
            db: Mutex::new(db),
            secrets,
            http,
            sign_ins: signin::SignIns::new(options.sign_in_timeout),
            options,
            bundles: Mutex::new(std::collections::HashMap::new()),
            dpop_keys: Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// The HTTP client, made on first use.
    fn http(&self) -> Result<&dyn HttpClient> {
        if let Some(http) = self.http.get() {
            return Ok(http.as_ref());
        }
        let made: Arc<dyn HttpClient> =
            Arc::new(exchanges::CapturingHttp::new(Arc::new(ReqwestHttp::new()?)));
        Ok(self.http.get_or_init(|| made).as_ref())
    }

    /// Uses another secret store (tests with a small split limit, other keyring services).
    pub fn with_secret_store(mut self, store: Arc<dyn SecretStore>) -> Self {
        self.secrets = store;
        self
    }

    /// The directory holding all state.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Where secrets are kept, for status output.
    pub fn storage_backend(&self) -> &'static str {
        self.secrets.backend()
    }

    /// The smallest refresh margin in seconds.
    pub fn min_skew_secs(&self) -> i64 {
        self.options.min_skew.as_secs() as i64
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Db> {
        // The connection stays usable after a panic elsewhere; SQLite keeps it consistent.
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every account.
    pub fn list(&self) -> Result<Vec<Account>> {
        self.db().list()
    }

    /// Changes whenever the account database changed: `.0` when another
    /// process committed (SQLite's data_version), `.1` when this process wrote.
    /// For callers that redo work only when something changed.
    pub fn change_stamp(&self) -> Result<(i64, u64)> {
        self.db().change_stamp()
    }

    /// An account by id, by name, or by server URL (its default account when several).
    pub fn account(&self, selector: &str) -> Result<Account> {
        if let Some(account) = self.db().get(selector)? {
            return Ok(account);
        }
        let accounts = match mcpauth_core::http::parse_url(selector) {
            Ok(url) => self.serving(&url)?,
            Err(_) => {
                let mut all = self.list()?;
                all.retain(|a| a.name == selector);
                all
            }
        };
        let by_url: Vec<&Account> = accounts.iter().collect();
        match by_url.as_slice() {
            [] => Err(Error::UnknownAccount {
                selector: selector.to_string(),
            }),
            [one] => Ok((*one).clone()),
            many => many
                .iter()
                .find(|a| a.is_default)
                .map(|a| (*a).clone())
                .ok_or_else(|| Error::AmbiguousAccount {
                    selector: selector.to_string(),
                    count: many.len(),
                    ids: many
                        .iter()
                        .map(|a| a.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
        }
    }

    /// The accounts for the MCP server at `url` (compared by its canonical
    /// resource, SPEC §3.3), in list order.
    pub fn serving(&self, url: &url::Url) -> Result<Vec<Account>> {
        let canonical = canonical_resource(url);
        let mut accounts = self.list()?;
        accounts.retain(|a| a.serves(&canonical));
        Ok(accounts)
    }

    /// How an entry written for another tool should name `account`: its server
    /// URL when that selects this account (the server's only or default one),
    /// so that after a sign-out a new sign-in to the server serves the entry
    /// again; else its id, which stays exact.
    pub fn export_selector(&self, account: &Account) -> String {
        match self.account(&account.server_url) {
            Ok(found) if found.id == account.id => account.server_url.clone(),
            _ => account.id.clone(),
        }
    }

    /// The activity log of an account, oldest first.
    pub fn activity(&self, id: &str) -> Result<Vec<Activity>> {
        self.db().activity(id)
    }

    /// Makes an account its server's default.
    pub fn set_default(&self, id: &str) -> Result<()> {
        self.account(id)?;
        self.db().set_default(id)
    }

    /// True when SQLite's integrity check passes.
    pub fn integrity_ok(&self) -> Result<bool> {
        self.db().integrity_ok()
    }

    /// The tokens in the keyring for an account (for reveal/copy/export and tests).
    pub fn token_bundle(&self, id: &str) -> Result<Option<TokenBundle>> {
        self.read_bundle(id)
    }

    fn tokens_key(id: &str) -> String {
        format!("{id}/tokens")
    }

    fn client_key(id: &str) -> String {
        format!("{id}/client")
    }

    /// Reads a JSON secret. A parse error names the item and the position, never
    /// the content: serde's messages quote the offending value, which is secret here.
    fn read_secret_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        what: &str,
    ) -> Result<Option<T>> {
        match self.secrets.get(key)? {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json).map(Some).map_err(|e| Error::Keyring {
                backend: self.secrets.backend(),
                message: format!(
                    "the stored {what} ({key}) is unreadable ({:?} error at line {}, column {}); sign in again",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            }),
        }
    }

    fn write_secret_json<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let json = serde_json::to_string(value).map_err(|e| Error::Invalid(e.to_string()))?;
        self.secrets.set(key, &json)
    }

    fn read_bundle(&self, id: &str) -> Result<Option<TokenBundle>> {
        let bundle: Option<TokenBundle> = self.read_secret_json(&Self::tokens_key(id), "tokens")?;
        match &bundle {
            Some(b) => self.cache_bundle(id, b),
            None => self.forget_bundle(id),
        }
        Ok(bundle)
    }

    fn write_bundle(&self, id: &str, bundle: &TokenBundle) -> Result<()> {
        // Forgotten first: if the write fails, the keyring's state is unknown.
        self.forget_bundle(id);
        self.write_secret_json(&Self::tokens_key(id), bundle)?;
        self.cache_bundle(id, bundle);
        Ok(())
    }

    fn bundles(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, TokenBundle>> {
        self.bundles.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cache_bundle(&self, id: &str, bundle: &TokenBundle) {
        self.bundles().insert(id.to_string(), bundle.clone());
    }

    fn forget_bundle(&self, id: &str) {
        self.bundles().remove(id);
    }

    /// The bundle this process last saw, if it is still the one the record names.
    fn cached_bundle(&self, id: &str, generation: i64) -> Option<TokenBundle> {
        self.bundles()
            .get(id)
            .filter(|b| b.generation == generation)
            .cloned()
    }

    fn read_credential(&self, id: &str) -> Result<Option<ClientCredential>> {
        self.read_secret_json(&Self::client_key(id), "client credential")
    }

    fn write_credential(&self, id: &str, credential: &ClientCredential) -> Result<()> {
        self.write_secret_json(&Self::client_key(id), credential)
    }

    /// The cached discovery of an account.
    fn discovery(&self, id: &str) -> Result<Discovery> {
        let json = self
            .db()
            .discovery_json(id)?
            .ok_or_else(|| Error::UnknownAccount {
                selector: id.to_string(),
            })?;
        serde_json::from_str(&json).map_err(|e| Error::Database {
            path: self.home.display().to_string(),
            message: format!("the cached discovery of account {id} is unreadable: {e}"),
        })
    }

    /// Rebuilds the client identity of an account, credential from the keyring.
    fn client_of(&self, account: &Account) -> Result<ClientRegistration> {
        let auth = match account.client_auth.as_str() {
            "none" => ClientAuth::None,
            method => {
                let credential =
                    self.read_credential(&account.id)?
                        .ok_or(Error::SecretMissing {
                            account: account.id.clone(),
                            what: "client credential",
                        })?;
                client_auth_from(method, &credential)?
            }
        };
        Ok(ClientRegistration {
            redirect_uris: account.redirect_uri.iter().cloned().collect(),
            kind: account.registration,
            dpop: self.dpop_key(account)?,
            ..ClientRegistration::pre_registered(&account.issuer, &account.client_id, auth)
        })
    }
}

/// The core's client authentication from a stored method name and credential.
pub fn client_auth_from(method: &str, credential: &ClientCredential) -> Result<ClientAuth> {
    match (method, credential) {
        ("client_secret_basic", ClientCredential::Secret { value }) => {
            Ok(ClientAuth::SecretBasic(ClientSecret::new(value.clone())))
        }
        ("client_secret_post", ClientCredential::Secret { value }) => {
            Ok(ClientAuth::SecretPost(ClientSecret::new(value.clone())))
        }
        ("private_key_jwt", ClientCredential::PrivateKey { pem_or_jwk, alg }) => {
            let alg = alg.as_deref().map(SigningAlgorithm::parse).transpose()?;
            let key = SigningKey::load(&PrivateKeyMaterial::new(pem_or_jwk.clone()), alg)?;
            Ok(ClientAuth::PrivateKeyJwt(Arc::new(key)))
        }
        (method, _) => Err(Error::Invalid(format!(
            "the stored client credential does not fit the authentication method {method}"
        ))),
    }
}

/// A new short account id: 8 characters of lowercase base32.
fn new_account_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_secret_is_reported_without_its_content() {
        let home = std::env::temp_dir().join(format!("mcpauth-unreadable-{}", std::process::id()));
        let mut options = VaultOptions::from_env().expect("options");
        options.home = home.clone();
        options.secret_backend = SecretBackend::Plaintext;
        let vault = Vault::open(options).expect("open");
        vault
            .secrets
            .set(
                "abc/tokens",
                r#"{"access_token": "tok-9f8e7d-access", "token_type": "Bearer", "generation": "tok-9f8e7d-generation"}"#,
            )
            .expect("write");
        let err = vault.read_bundle("abc").expect_err("unreadable");
        let text = err.to_string();
        assert!(
            text.contains("abc/tokens") && text.contains("line 1"),
            "{text}"
        );
        assert!(!text.contains("tok-9f8e7d"), "{text}");
        let _ = std::fs::remove_dir_all(home);
    }
}
