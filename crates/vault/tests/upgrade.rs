//! Upgrades lose nothing: a vault written by an earlier release's own code
//! (the fixture of `scripts/vault-fixture.sh`: its database file and its
//! keyring items exactly as that release stored them) opens with every
//! account, scope, token and history entry intact and keeps working; a vault
//! of a newer schema is refused with a clear message and left untouched.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mcpauth_testkit::{servers, RecordingHttp};
use mcpauth_vault::{AccountStatus, Error, Vault};
use serde_json::Value;
use support::{options, require_keyring, unique};

/// The last commit with schema 1 (accounts and activity), the oldest vault
/// format: opening it runs every migration since.
const FIXTURE: &str = "vault-33ad2317";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(FIXTURE)
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixture_dir().join("expected.json")).expect("fixture");
    serde_json::from_str(&text).expect("expected.json")
}

/// One keyring item as `secret-tool search --all` lists it.
#[derive(Debug, Default)]
struct Item {
    label: String,
    secret: String,
    attributes: HashMap<String, String>,
}

fn keyring_items() -> Vec<Item> {
    let text = std::fs::read_to_string(fixture_dir().join("keyring.txt")).expect("fixture");
    let mut items: Vec<Item> = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            items.push(Item::default());
            continue;
        }
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let item = items.last_mut().expect("an item header comes first");
        match key {
            "label" => item.label = value.to_string(),
            "secret" => item.secret = value.to_string(),
            // secret-tool shows the `xdg:schema` attribute as `schema`.
            "schema" => {
                item.attributes.insert("xdg:schema".into(), value.into());
            }
            _ => {
                if let Some(name) = key.strip_prefix("attribute.") {
                    item.attributes.insert(name.into(), value.into());
                }
            }
        }
    }
    items
}

/// Puts the fixture's keyring items into the keyring as they were written,
/// under `service` instead of the fixture's own service name.
fn restore_keyring(service: &str) -> usize {
    use dbus_secret_service::{EncryptionType, SecretService};
    let old_service = expected()["service"].as_str().expect("service").to_string();
    let ss = SecretService::connect(EncryptionType::Dh).expect("Secret Service");
    let collection = ss.get_default_collection().expect("default collection");
    let items = keyring_items();
    for item in &items {
        assert_eq!(item.attributes["service"], old_service);
        let mut attributes = item.attributes.clone();
        attributes.insert("service".into(), service.into());
        let attributes: HashMap<&str, &str> = attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        collection
            .create_item(
                &item.label.replace(&old_service, service),
                attributes,
                item.secret.as_bytes(),
                false,
                "text/plain",
            )
            .expect("create a keyring item");
    }
    items.len()
}

/// A fresh home holding the fixture's database, its keyring items restored
/// under a service of its own.
struct Restored {
    home: PathBuf,
    service: String,
}

impl Restored {
    fn new() -> Self {
        require_keyring();
        let home = std::env::temp_dir().join(unique("mcpauth-upgrade"));
        std::fs::create_dir_all(&home).expect("home");
        std::fs::copy(
            fixture_dir().join("accounts.sqlite3"),
            home.join("accounts.sqlite3"),
        )
        .expect("copy the fixture database");
        let service = unique("mcpauth-upgrade");
        assert!(
            restore_keyring(&service) > 0,
            "the fixture has keyring items"
        );
        Self { home, service }
    }

    fn open(&self) -> Vault {
        Vault::open(options(&self.home, &self.service, &RecordingHttp::new()))
            .expect("the old vault opens")
    }
}

impl Drop for Restored {
    fn drop(&mut self) {
        let _ = std::process::Command::new("secret-tool")
            .args(["clear", "service", &self.service])
            .status();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// Every field `old` has, as `new` has it (newer releases add fields).
fn assert_fields_kept(what: &str, old: &Value, new: &Value) {
    let old = old.as_object().expect("an object");
    for (key, value) in old {
        assert_eq!(
            new.get(key),
            Some(value),
            "{what}: `{key}` changed in the upgrade"
        );
    }
}

fn schema_version(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version")
}

#[tokio::test]
async fn a_vault_from_the_first_release_opens_with_every_account_scope_and_token() {
    let restored = Restored::new();
    let expected = expected();
    assert_eq!(schema_version(&restored.home.join("accounts.sqlite3")), 1);
    let vault = restored.open();

    let accounts = vault.list().expect("list");
    let old_accounts = expected["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), old_accounts.len(), "every account is there");
    for old in old_accounts {
        let id = old["id"].as_str().expect("id");
        let new = accounts
            .iter()
            .find(|a| a.id == id)
            .unwrap_or_else(|| panic!("account {id} is missing after the upgrade"));
        // Names, kinds, URLs, the client, every scope set, expiry, default.
        assert_fields_kept(
            &format!("account {id}"),
            old,
            &serde_json::to_value(new).expect("json"),
        );

        let bundle = vault
            .token_bundle(id)
            .expect("read the keyring")
            .unwrap_or_else(|| panic!("the tokens of {id} are gone"));
        assert_fields_kept(
            &format!("tokens of {id}"),
            &expected["bundles"][id],
            &serde_json::to_value(&bundle).expect("json"),
        );

        let activity = vault.activity(id).expect("activity");
        let old_activity = expected["activity"][id].as_array().expect("activity");
        assert_eq!(activity.len(), old_activity.len(), "the history of {id}");
        for (old, new) in old_activity.iter().zip(&activity) {
            assert_fields_kept(
                &format!("activity of {id}"),
                old,
                &serde_json::to_value(new).expect("json"),
            );
        }
    }
    assert!(vault.integrity_ok().expect("integrity check"));
    drop(vault);

    // Migrated to today's schema once; opening again changes nothing more.
    let db = restored.home.join("accounts.sqlite3");
    let migrated = schema_version(&db);
    assert!(migrated > 1, "the schema moved up");
    let vault = restored.open();
    assert_eq!(vault.list().expect("list").len(), old_accounts.len());
    drop(vault);
    assert_eq!(schema_version(&db), migrated);
}

/// Puts the fixture's machine accounts on today's test servers, which run
/// on other ports than the fixture's did and know other clients: only the
/// origins in the records change, and each machine account's client is
/// registered at today's authorization server with the credential the old
/// keyring item holds (under a name of its own: the pre-registered names
/// belong to today's clients).
async fn move_to_todays_servers(db: &Path) {
    let expected = expected();
    let origin = |u: &str| {
        let u = url::Url::parse(u).expect("url");
        u.origin().ascii_serialization()
    };
    let user = &expected["accounts"][0];
    let moves = [
        (
            origin(user["issuer"].as_str().expect("issuer")),
            origin(servers().issuer()),
        ),
        (
            origin(user["server_url"].as_str().expect("server_url")),
            origin(servers().mcp("current")),
        ),
    ];
    let conn = rusqlite::Connection::open(db).expect("open");
    for (from, to) in moves {
        for column in ["server_url", "resource", "issuer", "discovery_json"] {
            conn.execute(
                &format!("UPDATE accounts SET {column} = replace({column}, ?1, ?2)"),
                [&from, &to],
            )
            .expect("move an origin");
        }
    }
    let http = reqwest::Client::new();
    for item in keyring_items() {
        let Some(id) = item.attributes["username"].strip_suffix("/client") else {
            continue;
        };
        let credential: Value = serde_json::from_str(&item.secret).expect("a credential");
        let body = match credential["kind"].as_str() {
            Some("secret") => serde_json::json!({ "client_secret": credential["value"] }),
            Some("private_key") => {
                serde_json::json!({ "private_key_pem": credential["pem_or_jwk"] })
            }
            other => panic!("a credential of kind {other:?}"),
        };
        let client_id = format!("fixture-{id}");
        let answer = http
            .put(format!("{}/__test/clients/{client_id}", servers().issuer()))
            .json(&body)
            .send()
            .await
            .expect("register the client");
        assert!(
            answer.status().is_success(),
            "{}",
            answer.text().await.unwrap_or_default()
        );
        conn.execute(
            "UPDATE accounts SET client_id = ?1 WHERE id = ?2",
            [&client_id, id],
        )
        .expect("rename the client");
    }
}

#[tokio::test]
async fn machine_accounts_from_the_first_release_get_new_tokens_with_their_kept_credentials() {
    let restored = Restored::new();
    move_to_todays_servers(&restored.home.join("accounts.sqlite3")).await;
    let vault = restored.open();
    let machines: Vec<_> = vault
        .list()
        .expect("list")
        .into_iter()
        .filter(|a| a.kind == mcpauth_vault::AccountKind::Machine)
        .collect();
    let methods: Vec<_> = machines.iter().map(|m| m.client_auth.as_str()).collect();
    assert_eq!(methods.len(), 2, "{methods:?}");
    assert!(methods.contains(&"client_secret_basic") && methods.contains(&"private_key_jwt"));
    for machine in &machines {
        let before = vault
            .token_bundle(&machine.id)
            .expect("read")
            .expect("tokens");
        // The client secret or private key is read from the old keyring
        // item and presented to today's authorization server.
        let account = vault
            .refresh_now(&machine.id)
            .await
            .unwrap_or_else(|e| panic!("{} ({}): {e}", machine.id, machine.client_auth));
        assert!(
            matches!(account.status, AccountStatus::Active { .. }),
            "{:?}",
            account.status
        );
        let after = vault
            .token_bundle(&machine.id)
            .expect("read")
            .expect("tokens");
        assert_ne!(after.access_token, before.access_token, "a new token");
        assert_eq!(account.granted_scopes, machine.granted_scopes);
    }
}

/// Every file in `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let e = e.expect("entry");
            let meta = e.metadata().expect("metadata");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
                meta.modified().expect("mtime"),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_vault_of_a_newer_schema_is_refused_and_left_untouched() {
    require_keyring();
    let home = tempfile::tempdir().expect("home");
    let db = home.path().join("accounts.sqlite3");
    {
        // As a newer release leaves it: today's schema and one more step,
        // in WAL mode, closed.
        let service = unique("mcpauth-upgrade");
        drop(Vault::open(options(home.path(), &service, &RecordingHttp::new())).expect("open"));
        let conn = rusqlite::Connection::open(&db).expect("open");
        let today = schema_version(&db);
        conn.execute_batch(&format!(
            "ALTER TABLE accounts ADD COLUMN from_the_future TEXT; PRAGMA user_version = {};",
            today + 1
        ))
        .expect("a newer schema");
    }
    let before = snapshot(home.path());
    let vault_files: Vec<_> = before.iter().map(|f| f.0.clone()).collect();
    assert!(
        !vault_files.iter().any(|f| f.ends_with("-wal")),
        "closed cleanly: {vault_files:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(20));

    for _ in 0..2 {
        let service = unique("mcpauth-upgrade");
        let err = match Vault::open(options(home.path(), &service, &RecordingHttp::new())) {
            Ok(_) => panic!("a vault of a newer schema opened"),
            Err(e) => e,
        };
        assert!(matches!(err, Error::Database { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&db.display().to_string())
                && message.contains("newer MCP Auth")
                && message.contains("upgrade MCP Auth"),
            "{message}"
        );
    }
    // Not a byte, a timestamp or a new file.
    assert_eq!(snapshot(home.path()), before);
}
