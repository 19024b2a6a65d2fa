//! Finding the remote MCP servers already listed in other clients'
//! configurations (Claude Code, Claude Desktop, VS Code, Cursor), so the app
//! can offer a Sign in button for each.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

/// A remote MCP server found in another client's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportCandidate {
    /// Which client lists it.
    pub source: String,
    /// Its name there.
    pub name: String,
    pub url: String,
    pub config_path: PathBuf,
    /// The account an entry MCP Auth wrote names (`mcpauth token X` or
    /// `mcpauth proxy X`): such an entry works only while X resolves.
    pub mcpauth_account: Option<String>,
}

/// The files each client keeps its servers in, with the key that holds them.
pub fn config_files(home: &Path, config_dir: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("Claude Code", home.join(".claude.json")),
        (
            "Claude Desktop",
            config_dir.join("Claude").join("claude_desktop_config.json"),
        ),
        (
            "VS Code",
            config_dir.join("Code").join("User").join("mcp.json"),
        ),
        ("Cursor", home.join(".cursor").join("mcp.json")),
    ]
}

fn parse(text: &str) -> Option<Value> {
    jsonc_parser::parse_to_serde_value::<Option<Value>>(
        text,
        &jsonc_parser::ParseOptions::default(),
    )
    .ok()
    .flatten()
}

/// The http(s) URL a server entry connects to: its `url`/`serverUrl`, or the
/// URL argument of an `mcp-remote` style bridge.
fn entry_url(entry: &Value) -> Option<String> {
    let is_http = |s: &str| s.starts_with("https://") || s.starts_with("http://");
    for key in ["url", "serverUrl"] {
        if let Some(u) = entry
            .get(key)
            .and_then(Value::as_str)
            .filter(|u| is_http(u))
        {
            return Some(u.to_string());
        }
    }
    entry
        .get("args")
        .and_then(Value::as_array)
        .and_then(|args| args.iter().filter_map(Value::as_str).find(|a| is_http(a)))
        .map(str::to_string)
}

/// The account selector of an entry that runs mcpauth: the word after `token`
/// in a Claude Code `headersHelper` (`mcpauth token X --format …`), or after
/// `proxy` in the arguments of a command named mcpauth.
fn mcpauth_account(entry: &Value) -> Option<String> {
    let runs_mcpauth = |command: &str| {
        let file = command.rsplit(['/', '\\']).next().unwrap_or(command);
        file == "mcpauth" || file == "mcpauth.exe"
    };
    if let Some(helper) = entry.get("headersHelper").and_then(Value::as_str) {
        let words: Vec<&str> = helper.split_whitespace().collect();
        if let [command, "token", account, ..] = words.as_slice() {
            if runs_mcpauth(command.trim_matches(['\'', '"'])) {
                return Some(account.trim_matches(['\'', '"']).to_string());
            }
        }
    }
    let command = entry.get("command").and_then(Value::as_str)?;
    let args: Vec<&str> = entry
        .get("args")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match args.as_slice() {
        ["proxy", account, ..] if runs_mcpauth(command) => Some(account.to_string()),
        _ => None,
    }
}

fn servers_in(value: &Value) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    let mut collect = |map: Option<&serde_json::Map<String, Value>>| {
        for (name, entry) in map.into_iter().flatten() {
            if let Some(url) = entry_url(entry) {
                out.push((name.clone(), url, mcpauth_account(entry)));
            }
        }
    };
    collect(value.get("mcpServers").and_then(Value::as_object));
    collect(value.get("servers").and_then(Value::as_object));
    // Claude Code keeps per-project servers under projects.<path>.mcpServers.
    if let Some(projects) = value.get("projects").and_then(Value::as_object) {
        for project in projects.values() {
            collect(project.get("mcpServers").and_then(Value::as_object));
        }
    }
    out
}

/// Every remote server in the known configuration files; unreadable files are skipped.
pub fn remote_servers(home: &Path, config_dir: &Path) -> Vec<ImportCandidate> {
    let mut out: Vec<ImportCandidate> = Vec::new();
    for (source, path) in config_files(home, config_dir) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Some(value) = parse(&text) else {
            tracing::info!(path = %path.display(), "not valid JSON; skipped for import");
            continue;
        };
        for (name, url, mcpauth_account) in servers_in(&value) {
            if !out.iter().any(|c| c.source == source && c.url == url) {
                out.push(ImportCandidate {
                    source: source.to_string(),
                    name,
                    url,
                    config_path: path.clone(),
                    mcpauth_account,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_remote_servers_in_every_client() {
        let dir = std::env::temp_dir().join(format!("mcpauth-import-{}", std::process::id()));
        let (home, config) = (dir.join("home"), dir.join("config"));
        let write = |path: PathBuf, text: &str| {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
            std::fs::write(path, text).expect("write");
        };
        write(
            home.join(".claude.json"),
            r#"{"mcpServers": {"linear": {"type": "http", "url": "https://mcp.linear.app/mcp"}, "local": {"command": "x"}},
                "projects": {"/p": {"mcpServers": {"sentry": {"type": "sse", "url": "https://mcp.sentry.dev/sse"}}}}}"#,
        );
        write(
            config.join("Claude/claude_desktop_config.json"),
            r#"{"mcpServers": {"remote": {"command": "npx", "args": ["mcp-remote", "https://mcp.example.com/mcp"]}}}"#,
        );
        write(
            config.join("Code/User/mcp.json"),
            "// comments are fine\n{\"servers\": {\"gh\": {\"type\": \"http\", \"url\": \"https://api.githubcopilot.com/mcp/\",},},}",
        );
        write(home.join(".cursor/mcp.json"), "not json");
        write(
            home.join(".claude-entries.json"),
            r#"{"mcpServers": {
                "ours": {"type": "http", "url": "https://h/mcp", "headersHelper": "'/usr/bin/mcpauth' token a1b2 --format headers-json"},
                "proxied": {"command": "/opt/mcpauth", "args": ["proxy", "https://h/mcp"]},
                "other": {"command": "npx", "args": ["proxy", "https://h/mcp"]}}}"#,
        );
        let entries =
            parse(&std::fs::read_to_string(home.join(".claude-entries.json")).expect("read"))
                .expect("json");
        let mut named: Vec<(String, Option<String>)> = servers_in(&entries)
            .into_iter()
            .map(|(name, _, account)| (name, account))
            .collect();
        named.sort();
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            named,
            [
                ("other".to_string(), None),
                ("ours".to_string(), some("a1b2")),
                ("proxied".to_string(), some("https://h/mcp")),
            ]
        );
        let found = remote_servers(&home, &config);
        let pairs: Vec<(&str, &str)> = found
            .iter()
            .map(|c| (c.source.as_str(), c.url.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("Claude Code", "https://mcp.linear.app/mcp"),
                ("Claude Code", "https://mcp.sentry.dev/sse"),
                ("Claude Desktop", "https://mcp.example.com/mcp"),
                ("VS Code", "https://api.githubcopilot.com/mcp/"),
            ]
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
