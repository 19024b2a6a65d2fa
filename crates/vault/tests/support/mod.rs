//! Helpers for the vault's tests: a vault in a fresh home with its own keyring
//! service name (so tests never share keyring items), and sign-in as a user.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mcpauth_testkit::{all_files, drive_login, RecordingHttp};
use mcpauth_vault::{Account, ClientChoice, SignInRequest, Vault, VaultOptions};

/// The `vault_probe` example, built next to the test binaries.
pub fn probe() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("examples")
        .join("vault_probe");
    assert!(
        path.exists(),
        "{} is missing: run `cargo test -p mcpauth-vault` (it builds the examples)",
        path.display()
    );
    path
}

/// The vault tests use the real Secret Service; say how to get one when absent.
pub fn require_keyring() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "the vault tests need a D-Bus session with an unlocked gnome-keyring: run scripts/test.sh, \
         or `dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets; cargo test'`"
    );
}

pub struct TestVault {
    pub vault: Vault,
    pub home: PathBuf,
    pub service: String,
    pub http: RecordingHttp,
}

impl Drop for TestVault {
    fn drop(&mut self) {
        // Leave no keyring items behind.
        if let Ok(accounts) = self.vault.list() {
            for a in accounts {
                let store = mcpauth_vault::secrets::KeyringStore::new(
                    &self.service,
                    Duration::from_secs(5),
                );
                use mcpauth_vault::secrets::SecretStore;
                let _ = store.delete(&format!("{}/tokens", a.id));
                let _ = store.delete(&format!("{}/client", a.id));
            }
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique name for this process and call.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn options(home: &Path, service: &str, http: &RecordingHttp) -> VaultOptions {
    let mut options = VaultOptions::from_env().expect("options");
    options.home = home.to_path_buf();
    options.keyring_service = service.to_string();
    options.http = Some(Arc::new(http.clone()));
    options
}

pub fn test_vault() -> TestVault {
    test_vault_with(RecordingHttp::new())
}

/// A vault in a fresh home using `http` (e.g. with a short timeout).
pub fn test_vault_with(http: RecordingHttp) -> TestVault {
    require_keyring();
    let home = std::env::temp_dir().join(unique("mcpauth-vault-test"));
    let service = unique("mcpauth-test");
    let vault = Vault::open(options(&home, &service, &http)).expect("open vault");
    TestVault {
        vault,
        home,
        service,
        http,
    }
}

/// Signs in to `mcp_url` as `user` with the pre-registered public client, playing
/// the user in the authorization server's pages and the browser's redirect.
pub async fn sign_in(vault: &Vault, mcp_url: &str, user: &str, request: SignInRequest) -> Account {
    let request = SignInRequest {
        mcp_url: mcp_url.to_string(),
        client: if request.client.client_id.is_none()
            && request.client.client_metadata_url.is_none()
        {
            ClientChoice {
                client_id: Some("mcpauth-public".into()),
                ..Default::default()
            }
        } else {
            request.client.clone()
        },
        ..request
    };
    sign_in_as(vault, request, user).await
}

/// Runs `request` to the end as `user`, with whatever client it names (none:
/// the vault chooses a kept one, else registers): the authorization server's
/// pages, then the browser's redirect, which must go to the redirect URI sent.
pub async fn sign_in_as(vault: &Vault, request: SignInRequest, user: &str) -> Account {
    let sign_in = vault.begin_sign_in(request).await.expect("begin sign-in");
    let (url, redirect) = (
        sign_in.authorization_url.clone(),
        sign_in.redirect_uri.clone(),
    );
    let browser = async {
        let landing = drive_login(&url, &redirect, user).await;
        assert!(
            landing.starts_with(&redirect),
            "the server sent the browser back to {landing}, not to {redirect}"
        );
        reqwest::get(landing)
            .await
            .expect("browser reaches the listener");
    };
    let (account, ()) = tokio::join!(vault.finish_sign_in(sign_in), browser);
    account.expect("sign-in completes")
}

/// Panics if any of `needles` occurs in any file under `dir`.
pub fn assert_no_secret_on_disk(dir: &Path, needles: &[&str]) {
    let files = all_files(dir);
    assert!(
        files.iter().any(|(p, _)| p.ends_with("accounts.sqlite3")),
        "the database was scanned"
    );
    for (path, bytes) in files {
        for needle in needles.iter().filter(|n| n.len() >= 8) {
            let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(!found, "a secret was found in {}", path.display());
        }
    }
}
