//! Copied into an old commit's `crates/vault/tests/` by `scripts/vault-fixture.sh`
//! and run there, with that commit's code: makes a vault as that release
//! wrote it (a user account, a machine account with a secret and one with a
//! private key, a refresh, a default), and saves its database, its keyring
//! items (as `secret-tool` lists them) and what that release read back.
//! Uses only API that every release since the first vault has.

mod support;

use std::path::PathBuf;
use std::process::Command;

use mcpauth_core::scopes::Scopes;
use mcpauth_testkit::servers;
use mcpauth_vault::{ClientCredential, MachineAccountRequest, SignInRequest};
use support::{sign_in, test_vault};

#[tokio::test]
async fn make_fixture() {
    let out = PathBuf::from(std::env::var("MCPAUTH_FIXTURE_OUT").expect("MCPAUTH_FIXTURE_OUT"));
    std::fs::create_dir_all(&out).expect("create the output directory");
    let t = test_vault();
    let current = servers().mcp("current");
    let user = sign_in(
        &t.vault,
        current,
        "alice",
        SignInRequest {
            scopes: Some(Scopes::parse("openid mcp:read")),
            ..Default::default()
        },
    )
    .await;
    t.vault.refresh_now(&user.id).await.expect("refresh");
    let secret = servers().client_str("basic", "client_secret").to_string();
    t.vault
        .add_machine_account(MachineAccountRequest {
            mcp_url: current.into(),
            name: Some("ci bot".into()),
            client_id: "mcpauth-basic".into(),
            credential: ClientCredential::Secret { value: secret },
            scopes: Some(Scopes::parse("mcp:read")),
            authorization_server: None,
        })
        .await
        .expect("machine account with a secret");
    let pem = servers().client_str("es256", "private_key_pem").to_string();
    let keyed = t
        .vault
        .add_machine_account(MachineAccountRequest {
            mcp_url: current.into(),
            name: None,
            client_id: "mcpauth-es256".into(),
            credential: ClientCredential::PrivateKey {
                pem_or_jwk: pem,
                alg: None,
            },
            scopes: Some(Scopes::parse("mcp:read")),
            authorization_server: None,
        })
        .await
        .expect("machine account with a private key");
    t.vault.set_default(&keyed.id).expect("set default");

    // What this release reads back: the records, their tokens, their history.
    let accounts = t.vault.list().expect("list");
    let mut bundles = serde_json::Map::new();
    let mut activity = serde_json::Map::new();
    for a in &accounts {
        let bundle = t.vault.token_bundle(&a.id).expect("read").expect("tokens");
        bundles.insert(a.id.clone(), serde_json::to_value(&bundle).unwrap());
        let steps = t.vault.activity(&a.id).expect("activity");
        activity.insert(a.id.clone(), serde_json::to_value(&steps).unwrap());
    }
    let expected = serde_json::json!({
        "service": t.service,
        "accounts": accounts,
        "bundles": bundles,
        "activity": activity,
    });
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&expected).unwrap(),
    )
    .expect("write expected.json");

    // The keyring items exactly as this release stored them.
    // secret-tool prints the attributes on stderr and the rest on stdout;
    // line-buffered into one pipe, each item's lines stay together.
    let listed = Command::new("sh")
        .args([
            "-c",
            "stdbuf -oL secret-tool search --all --unlock service \"$1\" 2>&1",
            "sh",
            &t.service,
        ])
        .output()
        .expect("run secret-tool");
    assert!(listed.status.success(), "secret-tool search failed");
    std::fs::write(out.join("keyring.txt"), &listed.stdout).expect("write keyring.txt");

    // The database file itself, with its log folded in so one file is whole.
    let db = t.home.join("accounts.sqlite3");
    let conn = rusqlite::Connection::open(&db).expect("open the database");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    std::fs::copy(&db, out.join("accounts.sqlite3")).expect("copy the database");
}
