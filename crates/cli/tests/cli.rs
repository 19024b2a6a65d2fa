//! `mcpauth` as a user and other tools run it: a real browser (Chromium driven
//! by Playwright through `BROWSER`), the real keyring, the real servers.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use mcpauth_testkit::{call_tool, drive_login, jwt_claims, servers};
use serde_json::Value;
use support::{repo, Env};

fn stderr_one_line(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("mcpauth: "), "{stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_sign_in_then_token_status_upgrade_refresh_logout() {
    let env = Env::new();
    let current = servers().mcp("current");
    let out = env
        .cmd()
        .args([
            "login",
            current,
            "--client-id",
            "mcpauth-public",
            "--account-name",
            "work",
        ])
        .output()
        .expect("login");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout without --json");
    assert!(
        stderr.contains("Authorization server: 127.0.0.1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Redirect URI:         http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Signed in:") && stderr.contains("as alice"),
        "{stderr}"
    );
    let account = env.only_account();
    let id = account["id"].as_str().expect("id").to_string();

    // token: raw, then the formats other tools want.
    let token = env.token(&id);
    assert_eq!(env.token(current), token, "addressed by server URL too");
    assert_eq!(jwt_claims(&token)["aud"], current);
    assert_eq!(call_tool(current, &token, "whoami").await.status, 200);
    let headers = env.json(&["token", &id, "--format", "headers-json"]);
    assert_eq!(
        headers,
        serde_json::json!({"Authorization": format!("Bearer {token}")})
    );
    let out = env
        .cmd()
        .args(["token", &id, "--format", "header"])
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("Authorization: Bearer {token}")
    );

    // status: masked token, scopes, storage; never the token itself.
    let status = env.json(&["status", &id, "--json"]);
    let a = &status["accounts"][0];
    assert_eq!(a["granted_scopes"], "mcp:read");
    assert_eq!(a["offered_scopes"], "mcp:read mcp:write mcp:admin");
    assert_eq!(status["storage"], "Secret Service");
    assert!(a["access_token_masked"]
        .as_str()
        .expect("masked")
        .ends_with("****"));
    // The list names the account (signed in with --account-name work).
    let list = env.cmd().arg("list").output().expect("list");
    let listed = String::from_utf8_lossy(&list.stdout);
    let row = listed
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("no row for {id}:\n{listed}"));
    assert!(row.contains(" work "), "the name is shown: {row}");
    assert!(
        listed.starts_with("  ID"),
        "a header names the columns:\n{listed}"
    );
    for args in [
        vec!["status"],
        vec!["status", "--json"],
        vec!["list"],
        vec!["list", "--json"],
    ] {
        let out = env.cmd().args(&args).output().expect("run");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(&token),
            "{args:?} leaks the token"
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains(&token),
            "{args:?} leaks the token"
        );
    }

    // scopes add: refresh cannot widen at oidc-provider, so the browser signs in again.
    let out = env
        .cmd()
        .args(["scopes", "add", &id, "mcp:write"])
        .output()
        .expect("scopes add");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("invalid_scope") && stderr.contains("Upgraded:"),
        "{stderr}"
    );
    let upgraded = env.token(&id);
    assert_eq!(
        call_tool(current, &upgraded, "write_note").await.status,
        200
    );
    assert_eq!(env.only_account()["granted_scopes"], "mcp:read mcp:write");

    // refresh: a new token that works.
    let out = env.cmd().args(["refresh", &id]).output().expect("refresh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let refreshed = env.token(&id);
    assert_ne!(refreshed, upgraded);
    assert_eq!(call_tool(current, &refreshed, "whoami").await.status, 200);

    // logout: says what revocation achieved; introspection agrees.
    let status = env.json(&["status", &id, "--json"]);
    assert_eq!(status["accounts"][0]["has_refresh_token"], true);
    let refresh_token = env.refresh_token(&id);
    let out = env
        .cmd()
        .args(["logout", &id, "--json"])
        .output()
        .expect("logout");
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["refresh_token"], "revoked");
    assert!(
        report["access_token"]
            .as_str()
            .expect("text")
            .contains("unsupported_token_type"),
        "{report}"
    );
    assert!(env.json(&["list", "--json"])["accounts"]
        .as_array()
        .expect("a")
        .is_empty());
    assert!(
        !introspect_active(&refresh_token).await,
        "introspection says the grant is gone"
    );
}

/// Asks the authorization server whether a token is still active.
async fn introspect_active(token: &str) -> bool {
    let http = mcpauth_testkit::RecordingHttp::new();
    let (_, metadata) =
        mcpauth_core::discovery::fetch_authorization_server_metadata(&http, servers().issuer())
            .await
            .expect("metadata");
    let introspector = mcpauth_core::registration::ClientRegistration::pre_registered(
        servers().issuer(),
        servers().client_str("introspector", "client_id"),
        mcpauth_core::registration::ClientAuth::SecretBasic(
            mcpauth_core::secret::ClientSecret::new(
                servers().client_str("introspector", "client_secret"),
            ),
        ),
    );
    mcpauth_core::token::introspect(&http, &metadata, &introspector, token)
        .await
        .expect("introspection")
        .active
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamic_registration_is_the_default_client() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["login", servers().mcp("current"), "--json"])
        .output()
        .expect("login");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let account: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(account["registration"], "dynamic");
    assert_ne!(account["client_id"], "mcpauth-public");
    let token = env.token(account["id"].as_str().expect("id"));
    assert_eq!(
        call_tool(servers().mcp("current"), &token, "whoami")
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_browser_reads_the_pasted_redirect_url() {
    let env = Env::new();
    let mut child = env
        .std_cmd()
        .args([
            "login",
            servers().mcp("current"),
            "--no-browser",
            "--client-id",
            "mcpauth-public",
        ])
        .env("BROWSER", "/bin/false")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut reader = BufReader::new(stderr);
    let (mut url, mut redirect) = (None, None);
    let mut seen = String::new();
    while url.is_none() {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read") == 0 {
            panic!("login ended before printing the URL: {seen}");
        }
        seen.push_str(&line);
        if let Some(r) = line.strip_prefix("Redirect URI:") {
            redirect = Some(r.trim().to_string());
        }
        if line.trim_start().starts_with("http://127.0.0.1") && line.contains("/auth?") {
            url = Some(line.trim().to_string());
        }
    }
    let (url, redirect) = (url.expect("url"), redirect.expect("redirect"));
    // The user approves in a browser elsewhere and pastes where it ended.
    let landing = drive_login(&url, &redirect, "paula").await;
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{landing}").expect("paste");
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).expect("rest");
    let status = child.wait().expect("wait");
    assert!(status.success(), "{seen}{rest}");
    assert!(rest.contains("as paula"), "{rest}");
    let id = env.only_account()["id"].as_str().expect("id").to_string();
    assert_eq!(jwt_claims(&env.token(&id))["sub"], "paula");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_serves_an_sdk_client_with_step_up_and_gives_up_after_three() {
    let env = Env::new();
    let current = servers().mcp("current");
    let out = env
        .cmd()
        .args(["login", current, "--client-id", "mcpauth-public"])
        .output()
        .expect("login");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = env.only_account()["id"].as_str().expect("id").to_string();
    let out = StdCommand::new("node")
        .arg(repo().join("tests/servers/proxy-client.mjs"))
        .args([env!("CARGO_BIN_EXE_mcpauth"), "proxy", &id])
        .env("MCPAUTH_HOME", &env.home)
        .env("MCPAUTH_KEYRING_SERVICE", &env.service)
        .env("BROWSER", env.browser())
        .stdin(Stdio::null())
        .output()
        .expect("node proxy client");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary JSON");
    assert_eq!(
        summary["tools"],
        serde_json::json!(["unobtainable", "whoami", "write_note"]),
        "{summary}"
    );
    assert_eq!(summary["whoami"]["sub"], "alice");
    assert_eq!(
        summary["write_note"], "saved",
        "step-up to mcp:write worked: {summary}\n{stderr}"
    );
    let error = summary["unobtainable"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {summary}"));
    assert!(
        error.contains("after 3 attempts") && error.contains("insufficient_scope"),
        "{error}"
    );
    assert_eq!(
        stderr.matches("signing in again for:").count(),
        4,
        "one step-up for write_note, three for unobtainable:\n{stderr}"
    );
    assert_eq!(env.only_account()["granted_scopes"], "mcp:read mcp:write");
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vault/tests/export_fixtures")
        .join(name)
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(".mcpauth-backup-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn export_to_every_client_keeps_their_files_intact() {
    let env = Env::new();
    let out = env
        .cmd()
        .args([
            "login",
            servers().mcp("current"),
            "--client-id",
            "mcpauth-public",
            "--account-name",
            "demo",
        ])
        .output()
        .expect("login");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let account = env.only_account();
    let id = account["id"].as_str().expect("id").to_string();
    // The server's only account: entries name it by the server URL, so a new
    // sign-in to the server serves them again after a sign-out.
    let selector = account["server_url"]
        .as_str()
        .expect("server_url")
        .to_string();
    let fixtures: Vec<(String, PathBuf)> = std::fs::read_dir(fixture(""))
        .expect("fixtures")
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().to_string(), e.path()))
        .collect();
    assert!(!fixtures.is_empty());
    for (target, file) in [
        ("claude-code", "claude-code.mcp.json"),
        ("claude-desktop", "claude_desktop_config.json"),
        ("vscode", "vscode.mcp.json"),
        ("cursor", "cursor.mcp.json"),
    ] {
        let source = fixtures
            .iter()
            .find(|(n, _)| n == file)
            .unwrap_or_else(|| {
                panic!(
                    "fixture {file} missing; have {:?}",
                    fixtures.iter().map(|f| &f.0).collect::<Vec<_>>()
                )
            })
            .1
            .clone();
        let dir = env.home.join(format!("export-{target}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(file);
        std::fs::copy(&source, &path).expect("copy fixture");
        let original = std::fs::read_to_string(&path).expect("read");
        let out = env
            .cmd()
            .args([
                "export",
                target,
                &id,
                "--file",
                path.to_str().expect("path"),
                "--yes",
            ])
            .output()
            .expect("export");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{target}: {stderr}");
        assert!(stderr.contains("+++"), "a diff is shown: {stderr}");
        let written = std::fs::read_to_string(&path).expect("read");
        assert!(written.contains(&selector), "{target}: {written}");
        // Every original line survives (comments, other servers, formatting).
        for line in original
            .lines()
            .filter(|l| !l.trim().is_empty() && l.trim() != "}" && l.trim() != "},")
        {
            assert!(
                written.contains(line.trim_end_matches(',').trim_end()),
                "{target} lost `{line}`:\n{written}"
            );
        }
        let backups = backups(&dir);
        assert_eq!(backups.len(), 1, "{target}: one backup");
        assert_eq!(
            std::fs::read_to_string(&backups[0]).expect("backup"),
            original
        );
        assert!(
            !written.contains(&env.token(&id)),
            "no token in a config file"
        );
        // Running it again changes nothing.
        let out = env
            .cmd()
            .args([
                "export",
                target,
                &id,
                "--file",
                path.to_str().expect("path"),
                "--yes",
            ])
            .output()
            .expect("export again");
        assert!(out.status.success());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), written);
    }
    // Claude Code's headersHelper really produces the header.
    let written = std::fs::read_to_string(env.home.join("export-claude-code/claude-code.mcp.json"))
        .expect("read");
    assert!(
        written.contains(&format!("token {selector} --format headers-json")),
        "{written}"
    );
    // Without --yes and without a "y" on stdin, nothing is written.
    let path = env.home.join("export-cursor/cursor.mcp.json");
    let before = std::fs::read_to_string(&path).expect("read");
    let out = env
        .cmd()
        .args([
            "export",
            "cursor",
            &id,
            "--file",
            path.to_str().expect("path"),
            "--name",
            "other",
        ])
        .write_stdin("n\n")
        .output()
        .expect("export");
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&path).expect("read"), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_one_clear_line_and_a_nonzero_exit() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["token", "no-such-account"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr_one_line(&out).contains("no account matches `no-such-account`"));

    // A URL that is not an MCP server: the authorization server itself.
    let out = env
        .cmd()
        .args(["login", servers().issuer(), "--no-browser"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stderr_one_line(&out).contains("does not look like an MCP server"));

    // An MCP server whose authorization server is unreachable.
    let mock = wiremock::MockServer::start().await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            wiremock::ResponseTemplate::new(401).insert_header("www-authenticate", "Bearer"),
        )
        .mount(&mock)
        .await;
    wiremock::Mock::given(wiremock::matchers::path(
        "/.well-known/oauth-protected-resource/mcp",
    ))
    .respond_with(
        wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "resource": format!("{}/mcp", mock.uri()),
            "authorization_servers": [dead_url],
        })),
    )
    .mount(&mock)
    .await;
    let out = env
        .cmd()
        .args(["login", &format!("{}/mcp", mock.uri()), "--no-browser"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stderr_one_line(&out).contains("could not reach"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A malformed private key.
    let key = env.home.join("bad.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let out = env
        .cmd()
        .args([
            "login",
            servers().mcp("current"),
            "--grant",
            "client-credentials",
            "--client-id",
            "mcpauth-es256",
            "--private-key",
        ])
        .arg(&key)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let line = stderr_one_line(&out);
    assert!(
        line.contains("bad.pem") && line.contains("private key is not usable"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_account_with_a_private_key() {
    let env = Env::new();
    let key = env.home.join("es256.pem");
    std::fs::write(&key, servers().client_str("es256", "private_key_pem")).expect("write");
    let out = env
        .cmd()
        .args([
            "login",
            servers().mcp("current"),
            "--grant",
            "client-credentials",
            "--client-id",
            "mcpauth-es256",
            "--scope",
            "mcp:read",
            "--private-key",
        ])
        .arg(&key)
        .output()
        .expect("login");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let account = env.only_account();
    assert_eq!(account["kind"], "machine");
    assert_eq!(account["signing_alg"], "ES256");
    let token = env.token(account["id"].as_str().expect("id"));
    assert_eq!(jwt_claims(&token)["sub"], "mcpauth-es256");
    assert_eq!(
        call_tool(servers().mcp("current"), &token, "whoami")
            .await
            .status,
        200
    );
}

#[test]
fn completions_are_generated() {
    let out = Command::cargo_bin("mcpauth")
        .expect("bin")
        .args(["completions", "bash"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("mcpauth") && script.contains("proxy") && script.contains("headers-json")
    );
}

/// Everything a canary run collects: secrets seen, and text that must not hold them.
#[derive(Default)]
struct Canary {
    secrets: Vec<String>,
    /// (what, text) pairs: outputs of commands and files.
    texts: Vec<(String, Vec<u8>)>,
}

impl Canary {
    fn secret(&mut self, s: &str) {
        if s.len() >= 8 && !self.secrets.iter().any(|have| have == s) {
            self.secrets.push(s.to_string());
        }
    }

    /// Tokens of `id` as stored right now (they change with every refresh).
    fn tokens_of(&mut self, env: &Env, id: &str) {
        let mut options = mcpauth_vault::VaultOptions::from_env().expect("options");
        options.home = env.home.clone();
        options.keyring_service = env.service.clone();
        let vault = mcpauth_vault::Vault::open(options).expect("vault");
        if let Some(bundle) = vault.token_bundle(id).expect("keyring") {
            self.secret(&bundle.access_token);
            for t in [&bundle.refresh_token, &bundle.id_token]
                .into_iter()
                .flatten()
            {
                self.secret(t);
                // A JWT's signature part alone is enough to identify it.
                if let Some(sig) = t.rsplit('.').next() {
                    self.secret(sig);
                }
            }
        }
    }

    /// Runs a command with the most verbose logging and keeps its output.
    fn run(&mut self, env: &Env, args: &[&str], prints_token: bool) -> std::process::Output {
        let out = env
            .cmd()
            .env("MCPAUTH_LOG", "trace")
            .args(args)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if !prints_token {
            self.texts
                .push((format!("stdout of {args:?}"), out.stdout.clone()));
        }
        self.texts
            .push((format!("stderr of {args:?}"), out.stderr.clone()));
        out
    }

    fn files_under(&mut self, dir: &Path) {
        for (path, bytes) in mcpauth_testkit::all_files(dir) {
            self.texts.push((path.display().to_string(), bytes));
        }
    }

    /// Every place a secret was found.
    fn hits(&self) -> Vec<String> {
        let mut hits = Vec::new();
        for (what, bytes) in &self.texts {
            for (i, secret) in self.secrets.iter().enumerate() {
                if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                    hits.push(format!("secret #{i} in {what}"));
                }
            }
        }
        hits
    }
}

/// SPEC §5.4 / issue 6: sign-in, refresh, upgrade, export, proxy, a confidential
/// client, a private-key machine account and sign-out with `MCPAUTH_LOG=trace`;
/// then no token, client secret or private key in any output (other than
/// `token`'s stdout), any log line, or any file under MCPAUTH_HOME, the SQLite
/// database and the exported config included.
#[tokio::test]
async fn canary_no_secret_leaves_the_keyring() {
    let env = Env::new();
    let mut canary = Canary::default();
    let current = servers().mcp("current");
    let basic_secret = servers().client_str("basic", "client_secret").to_string();
    let pem = servers().client_str("es256", "private_key_pem").to_string();
    canary.secret(&basic_secret);
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        canary.secret(line);
    }
    let jwk = servers().client("es256")["private_jwk"]["d"]
        .as_str()
        .expect("the key's private part")
        .to_string();
    canary.secret(&jwk);

    // A confidential client (client_secret_basic) signs in through the browser.
    canary.run(
        &env,
        &[
            "login",
            current,
            "--client-id",
            "mcpauth-basic",
            "--client-secret",
            &basic_secret,
            "--account-name",
            "canary",
        ],
        false,
    );
    let id = env.only_account()["id"].as_str().expect("id").to_string();
    canary.tokens_of(&env, &id);
    let token = canary.run(&env, &["token", &id], true);
    assert!(!token.stdout.is_empty());
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["status", &id],
        vec!["status", &id, "--json"],
    ] {
        canary.run(&env, &args, false);
    }
    canary.run(&env, &["refresh", &id], false);
    canary.tokens_of(&env, &id);
    canary.run(&env, &["scopes", "add", &id, "mcp:write"], false);
    canary.tokens_of(&env, &id);
    let export = env.home.join("export").join(".mcp.json");
    std::fs::create_dir_all(export.parent().expect("dir")).expect("dir");
    canary.run(
        &env,
        &[
            "export",
            "claude-code",
            &id,
            "--file",
            export.to_str().expect("path"),
            "--yes",
        ],
        false,
    );

    // The proxy under a real MCP client, logging at trace on its stderr.
    let out = StdCommand::new("node")
        .arg(repo().join("tests/servers/proxy-client.mjs"))
        .args([env!("CARGO_BIN_EXE_mcpauth"), "proxy", &id])
        .env("MCPAUTH_HOME", &env.home)
        .env("MCPAUTH_KEYRING_SERVICE", &env.service)
        .env("BROWSER", env.browser())
        .env("MCPAUTH_LOG", "trace")
        .stdin(Stdio::null())
        .output()
        .expect("node proxy client");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    canary.texts.push(("the proxy's stdout".into(), out.stdout));
    canary.texts.push(("the proxy's stderr".into(), out.stderr));
    canary.tokens_of(&env, &id);

    // A machine account with a private key.
    let key = env.home.join("keys").join("es256.pem");
    std::fs::create_dir_all(key.parent().expect("dir")).expect("dir");
    std::fs::write(&key, &pem).expect("write key");
    canary.run(
        &env,
        &[
            "login",
            current,
            "--grant",
            "client-credentials",
            "--client-id",
            "mcpauth-es256",
            "--scope",
            "mcp:read",
            "--account-name",
            "machine",
            "--private-key",
            key.to_str().expect("path"),
        ],
        false,
    );
    // The key file is the user's own; take it away before scanning our files.
    std::fs::remove_file(&key).expect("remove key");
    let list = env.json(&["list", "--json"]);
    let machine = list["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["kind"] == "machine")
        .and_then(|a| a["id"].as_str())
        .expect("machine account")
        .to_string();
    canary.run(&env, &["token", &machine], true);
    canary.tokens_of(&env, &machine);

    // Sign out of both (the last tokens were collected above).
    canary.run(&env, &["logout", &id], false);
    canary.run(&env, &["logout", &machine], false);

    canary.files_under(&env.home);
    let scanned_db = canary
        .texts
        .iter()
        .any(|(what, _)| what.ends_with("accounts.sqlite3"));
    assert!(scanned_db, "the database was scanned");
    assert!(
        canary.secrets.len() >= 8,
        "the canary knows the secrets it looks for ({})",
        canary.secrets.len()
    );
    let logged = canary
        .texts
        .iter()
        .filter(|(what, _)| what.starts_with("stderr"))
        .map(|(_, b)| b.len())
        .sum::<usize>();
    assert!(
        logged > 10_000,
        "trace logging was on ({logged} bytes of stderr)"
    );
    let hits = canary.hits();
    assert!(hits.is_empty(), "secrets leaked: {hits:#?}");
}
