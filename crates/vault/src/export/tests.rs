//! Tests of the config file editors.
use super::*;
use serde_json::json;

const CLAUDE_CODE: &str = include_str!("../../tests/export_fixtures/claude-code.mcp.json");
const CLAUDE_DESKTOP: &str = include_str!("../../tests/export_fixtures/claude_desktop_config.json");
const VSCODE: &str = include_str!("../../tests/export_fixtures/vscode.mcp.json");
const CURSOR_FIXTURE: &str = include_str!("../../tests/export_fixtures/cursor.mcp.json");

/// The Cursor fixture with CRLF endings even if a checkout converted them.
fn cursor() -> String {
    CURSOR_FIXTURE.replace("\r\n", "\n").replace('\n', "\r\n")
}

fn fixtures() -> Vec<(Target, String)> {
    vec![
        (Target::ClaudeCode, CLAUDE_CODE.to_string()),
        (Target::ClaudeDesktop, CLAUDE_DESKTOP.to_string()),
        (Target::VsCode, VSCODE.to_string()),
        (Target::Cursor, cursor()),
    ]
}

fn entry(account: &str) -> Entry {
    Entry {
        name: "linear-work".to_string(),
        account: account.to_string(),
        server_url: "https://mcp.linear.app/mcp".to_string(),
        command: "mcpauth".to_string(),
        proxy_only: false,
    }
}

fn expected(target: Target, account: &str) -> serde_json::Value {
    match target {
        Target::ClaudeCode => json!({
            "type": "http",
            "url": "https://mcp.linear.app/mcp",
            "headersHelper": format!("mcpauth token {account} --format headers-json"),
        }),
        Target::VsCode => json!({
            "type": "stdio", "command": "mcpauth", "args": ["proxy", account],
        }),
        Target::ClaudeDesktop | Target::Cursor => json!({
            "command": "mcpauth", "args": ["proxy", account],
        }),
    }
}

fn parse(text: &str) -> serde_json::Value {
    CstRootNode::parse(text, &parse_options())
        .expect("output parses as JSONC")
        .to_serde_value()
        .expect("output has a value")
}

fn apply_ok(target: Target, existing: Option<&str>, entry: &Entry) -> String {
    apply(target, existing, entry).expect("apply succeeds")
}

/// The one contiguous run of text that turns `old` into `new`, asserting nothing else moved.
fn inserted<'a>(old: &str, new: &'a str) -> &'a str {
    let (o, n) = (old.as_bytes(), new.as_bytes());
    let prefix = o.iter().zip(n).take_while(|(a, b)| a == b).count();
    let max_suffix = o.len().min(n.len()) - prefix;
    let suffix = o
        .iter()
        .rev()
        .zip(n.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    assert_eq!(
        prefix + suffix,
        old.len(),
        "the original must survive as one prefix and one suffix:\n{new}"
    );
    &new[prefix..new.len() - suffix]
}

#[test]
fn adding_keeps_every_original_byte_and_inserts_one_entry() {
    for (target, original) in fixtures() {
        let new = apply_ok(target, Some(&original), &entry("acct-1"));
        let added = inserted(&original, &new);
        let trimmed = added.trim_matches(|c: char| c == ',' || c.is_whitespace());
        assert!(
            trimmed.starts_with("\"linear-work\": {"),
            "{target}: {added:?}"
        );
        assert_eq!(
            parse(&format!("{{{trimmed}}}")),
            json!({ "linear-work": expected(target, "acct-1") }),
            "{target}"
        );
    }
}

#[test]
fn result_has_exactly_the_expected_entry_and_nothing_else_changes() {
    for (target, original) in fixtures() {
        let new = apply_ok(target, Some(&original), &entry("acct-1"));
        let mut want = parse(&original);
        want[target.container_key()]["linear-work"] = expected(target, "acct-1");
        assert_eq!(parse(&new), want, "{target}");
    }
}

#[test]
fn comments_trailing_commas_and_tabs_survive_in_vscode() {
    let new = apply_ok(Target::VsCode, Some(VSCODE), &entry("acct-1"));
    for kept in [
        "\t// Servers for this workspace; see\n",
        "\t\t/* Local tools */\n",
        "\"args\": [\"mcp-server-fetch\"], // pinned in uv.lock\n",
        "\t\t// Needs the key above.\n",
        "\"inputs\": [\n\t\t{\n",
    ] {
        assert!(new.contains(kept), "lost {kept:?}:\n{new}");
    }
    // The new entry follows the file's style: tab indents and trailing commas.
    assert!(new.contains("\n\t\t\"linear-work\": {\n\t\t\t\"type\": \"stdio\",\n"));
    assert!(new.contains("\"args\": [\"proxy\", \"acct-1\"],\n\t\t},\n\t},\n}\n"));
}

#[test]
fn crlf_line_endings_are_kept() {
    let new = apply_ok(Target::Cursor, Some(&cursor()), &entry("acct-1"));
    assert!(
        !new.replace("\r\n", "").contains('\n'),
        "bare LF in:\n{new}"
    );
    assert!(new.ends_with("}\r\n"));
    assert!(new.contains("\r\n        \"linear-work\": {\r\n            \"command\""));
}

#[test]
fn a_missing_final_newline_stays_missing() {
    let original = CLAUDE_CODE.trim_end();
    let new = apply_ok(Target::ClaudeCode, Some(original), &entry("acct-1"));
    assert!(new.ends_with('}'));
    inserted(original, &new);
}

#[test]
fn replacing_an_entry_of_the_same_name_is_idempotent() {
    for (target, original) in fixtures() {
        let first = apply_ok(target, Some(&original), &entry("acct-1"));
        let second = apply_ok(target, Some(&first), &entry("acct-2"));
        let again = apply_ok(target, Some(&second), &entry("acct-2"));
        assert_eq!(again, second, "{target}: apply twice == apply once");

        let mut want = parse(&original);
        want[target.container_key()]["linear-work"] = expected(target, "acct-2");
        assert_eq!(parse(&second), want, "{target}");
        // Only the entry changed: everything before and after it is untouched.
        assert_eq!(second.replace("acct-2", "acct-1"), first, "{target}");
    }
}

#[test]
fn replacing_a_user_entry_swaps_only_its_value() {
    let user = Entry {
        name: "fetch".to_string(),
        ..entry("acct-1")
    };
    let new = apply_ok(Target::VsCode, Some(VSCODE), &user);
    let mut want = parse(VSCODE);
    want["servers"]["fetch"] = expected(Target::VsCode, "acct-1");
    assert_eq!(parse(&new), want);
    let before = VSCODE
        .split("\"fetch\": {")
        .next()
        .expect("fixture has fetch");
    let after = VSCODE
        .split("\t\t// Needs the key above.")
        .nth(1)
        .expect("fixture has note");
    assert!(new.starts_with(before) && new.ends_with(after), "{new}");
}

#[test]
fn an_unchanged_entry_keeps_the_users_formatting() {
    let text = "{\n  \"mcpServers\": {\n    \"linear-work\": {\"args\": [\n      \"proxy\",\n      \"acct-1\"\n    ], \"command\": \"mcpauth\"}\n  }\n}\n";
    let new = apply_ok(Target::Cursor, Some(text), &entry("acct-1"));
    assert_eq!(new, text);
}

#[test]
fn the_last_of_duplicate_names_is_the_one_replaced() {
    let text = "{\"mcpServers\": {\"linear-work\": {\"command\": \"old-1\"}, \"linear-work\": {\"command\": \"old-2\"}}}";
    let new = apply_ok(Target::Cursor, Some(text), &entry("acct-1"));
    assert!(new.contains("{\"command\": \"old-1\"}"), "{new}");
    assert!(!new.contains("old-2"), "{new}");
}

#[test]
fn a_missing_or_blank_file_gives_fresh_valid_json() {
    for target in Target::ALL {
        for existing in [None, Some(""), Some("  \n\t\r\n")] {
            let new = apply_ok(target, existing, &entry("acct-1"));
            let value: serde_json::Value =
                serde_json::from_str(&new).expect("fresh file is strict JSON");
            assert_eq!(
                value,
                json!({ target.container_key(): { "linear-work": expected(target, "acct-1") } })
            );
            assert!(new.starts_with("{\n  \"") && new.ends_with("}\n"), "{new}");
        }
    }
}

#[test]
fn a_file_without_the_container_gets_one_after_the_other_keys() {
    let text = "{\n  \"inputs\": []\n}\n";
    let new = apply_ok(Target::VsCode, Some(text), &entry("acct-1"));
    assert_eq!(
        parse(&new),
        json!({ "inputs": [], "servers": { "linear-work": expected(Target::VsCode, "acct-1") } })
    );
    assert!(
        new.starts_with("{\n  \"inputs\": [],\n  \"servers\": {\n"),
        "{new}"
    );
}

#[test]
fn a_file_of_only_comments_keeps_them() {
    let text = "// my servers\n";
    let new = apply_ok(Target::ClaudeCode, Some(text), &entry("acct-1"));
    assert!(new.contains("// my servers"), "{new}");
    assert_eq!(
        parse(&new),
        json!({ "mcpServers": { "linear-work": expected(Target::ClaudeCode, "acct-1") } })
    );
}

#[test]
fn a_byte_order_mark_is_kept() {
    let text = format!("\u{feff}{CLAUDE_DESKTOP}");
    let new = apply_ok(Target::ClaudeDesktop, Some(&text), &entry("acct-1"));
    assert!(new.starts_with('\u{feff}'));
    inserted(&text, &new);
}

#[test]
fn invalid_json_is_a_clear_error() {
    let err = apply(
        Target::Cursor,
        Some("{\n  \"mcpServers\": {\n    \"a\": 1\n"),
        &entry("a"),
    )
    .expect_err("unterminated object");
    assert!(matches!(
        err,
        ExportError::InvalidJson {
            target: Target::Cursor,
            ..
        }
    ));
    let message = err.to_string();
    assert!(
        message.starts_with("the Cursor config is not valid JSON: "),
        "{message}"
    );
    assert!(
        message.contains("line") && message.contains("fix the file"),
        "{message}"
    );

    let err = apply(Target::VsCode, Some("{\n  'servers': {}\n}"), &entry("a"))
        .expect_err("single quotes");
    assert_eq!(
        err,
        ExportError::InvalidJson {
            target: Target::VsCode,
            message: "Single-quoted strings are not allowed".to_string(),
            line: 2,
            column: 3,
        }
    );
}

#[test]
fn a_root_or_container_that_is_not_an_object_is_a_clear_error() {
    let err = apply(Target::ClaudeDesktop, Some("[1, 2]"), &entry("a")).expect_err("array");
    assert_eq!(
        err,
        ExportError::RootNotObject {
            target: Target::ClaudeDesktop,
            found: "an array"
        }
    );
    assert!(err.to_string().contains("{\"mcpServers\": {...}}"), "{err}");

    for (text, found) in [
        ("{\"servers\": []}", "an array"),
        ("{\"servers\": \"x\"}", "a string"),
        ("{\"servers\": null}", "null"),
    ] {
        let err = apply(Target::VsCode, Some(text), &entry("a")).expect_err(text);
        assert_eq!(
            err,
            ExportError::ContainerNotObject {
                target: Target::VsCode,
                found
            }
        );
        assert!(err
            .to_string()
            .starts_with("\"servers\" in the VS Code config is "));
    }
}

#[test]
fn an_empty_name_is_refused() {
    let nameless = Entry {
        name: String::new(),
        ..entry("a")
    };
    assert_eq!(
        apply(Target::Cursor, None, &nameless),
        Err(ExportError::EmptyName)
    );
}

#[test]
fn names_and_values_are_escaped() {
    let odd = Entry {
        name: "a \"quoted\" \\ name".to_string(),
        command: "C:\\Program Files\\MCP Auth\\mcpauth.exe".to_string(),
        ..entry("acct-1")
    };
    let new = apply_ok(Target::ClaudeDesktop, Some(CLAUDE_DESKTOP), &odd);
    let value = parse(&new);
    assert_eq!(
        value["mcpServers"]["a \"quoted\" \\ name"]["command"],
        "C:\\Program Files\\MCP Auth\\mcpauth.exe"
    );
}

#[test]
fn a_dpop_bound_account_gets_the_proxy_in_every_client_claude_code_included() {
    // Its token works only with proofs of a key in the keyring, so a
    // headersHelper's printed token would be refused: the proxy it is.
    let bound = Entry {
        proxy_only: true,
        ..entry("acct-1")
    };
    for (target, _) in fixtures() {
        let new = apply_ok(target, None, &bound);
        let written = &parse(&new)[target.container_key()]["linear-work"];
        assert_eq!(written["command"], "mcpauth", "{target:?}: {new}");
        assert_eq!(
            written["args"],
            json!(["proxy", "acct-1"]),
            "{target:?}: {new}"
        );
        assert!(written.get("headersHelper").is_none(), "{target:?}: {new}");
    }
    let claude_code = apply_ok(Target::ClaudeCode, None, &bound);
    assert_eq!(
        parse(&claude_code)["mcpServers"]["linear-work"]["type"],
        "stdio"
    );
}

#[test]
fn headers_helper_quotes_the_command_for_the_shell() {
    let helper = |command: &str, account: &str| {
        let e = Entry {
            command: command.to_string(),
            ..entry(account)
        };
        let new = apply_ok(Target::ClaudeCode, None, &e);
        parse(&new)["mcpServers"]["linear-work"]["headersHelper"]
            .as_str()
            .expect("a string")
            .to_string()
    };
    assert_eq!(
        helper("/usr/local/bin/mcpauth", "acct-1"),
        "/usr/local/bin/mcpauth token acct-1 --format headers-json"
    );
    assert_eq!(
        helper(
            "/Applications/MCP Auth.app/Contents/MacOS/mcpauth",
            "acct-1"
        ),
        "\"/Applications/MCP Auth.app/Contents/MacOS/mcpauth\" token acct-1 --format headers-json"
    );
    assert_eq!(
        helper("C:\\Program Files\\MCP Auth\\mcpauth.exe", "acct-1"),
        "\"C:\\Program Files\\MCP Auth\\mcpauth.exe\" token acct-1 --format headers-json"
    );
    assert_eq!(
        helper("/home/o'neil/$bin/mcpauth", "it's"),
        "'/home/o'\\''neil/$bin/mcpauth' token \"it's\" --format headers-json"
    );
    assert_eq!(shell_word(""), "\"\"");
}

#[test]
fn targets_round_trip_their_names() {
    for target in Target::ALL {
        assert_eq!(Target::parse(target.name()), Some(target));
        assert_eq!(target.to_string(), target.name());
    }
    assert_eq!(Target::parse("vs-code"), None);
    assert_eq!(Target::parse("env"), None);
}

#[test]
fn default_paths() {
    let (cwd, home, config) = (Path::new("/p"), Path::new("/h"), Path::new("/c"));
    let path = |t| default_path(t, cwd, home, config);
    assert_eq!(path(Target::ClaudeCode), Path::new("/p/.mcp.json"));
    assert_eq!(path(Target::VsCode), Path::new("/p/.vscode/mcp.json"));
    assert_eq!(path(Target::Cursor), Path::new("/h/.cursor/mcp.json"));
    assert_eq!(
        path(Target::ClaudeDesktop),
        Path::new("/c/Claude/claude_desktop_config.json")
    );
}

#[test]
fn user_paths_for_an_app_without_a_project() {
    let (home, config) = (Path::new("/h"), Path::new("/c"));
    let path = |t| user_path(t, home, config);
    assert_eq!(path(Target::ClaudeCode), Path::new("/h/.claude.json"));
    assert_eq!(path(Target::VsCode), Path::new("/c/Code/User/mcp.json"));
    assert_eq!(path(Target::Cursor), Path::new("/h/.cursor/mcp.json"));
    assert_eq!(
        path(Target::ClaudeDesktop),
        Path::new("/c/Claude/claude_desktop_config.json")
    );
}

#[test]
fn unified_diff_has_headers_hunks_and_three_lines_of_context() {
    let new = apply_ok(Target::ClaudeCode, Some(CLAUDE_CODE), &entry("acct-1"));
    let diff = unified_diff(Path::new("/p/.mcp.json"), CLAUDE_CODE, &new);
    let lines: Vec<&str> = diff.lines().collect();
    assert_eq!(lines[0], "--- /p/.mcp.json");
    assert_eq!(lines[1], "+++ /p/.mcp.json");
    assert_eq!(lines[2], "@@ -8,6 +8,11 @@");
    assert_eq!(lines[3], "     \"sentry\": {");
    assert_eq!(lines[6], "+    },");
    assert_eq!(lines[7], "+    \"linear-work\": {");
    let body = &lines[2..];
    assert_eq!(body.iter().filter(|l| l.starts_with('+')).count(), 5);
    assert_eq!(body.iter().filter(|l| l.starts_with('-')).count(), 0);
    // Three lines of context after the change too: "    }", "  }", "}".
    assert_eq!(lines[lines.len() - 3..], ["     }", "   }", " }"]);
    assert!(diff.ends_with(" }\n"));

    assert_eq!(unified_diff(Path::new("x"), "same\n", "same\n"), "");
    let fresh = unified_diff(Path::new("x"), "", "{}\n");
    assert_eq!(fresh, "--- x\n+++ x\n@@ -0,0 +1 @@\n+{}\n");
}

#[test]
fn write_creates_parents_and_makes_no_backup_for_a_new_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(".vscode").join("mcp.json");
    let backup = write_with_backup(&path, "{}\n").expect("write");
    assert_eq!(backup, None);
    assert_eq!(fs::read_to_string(&path).expect("read"), "{}\n");
    let names: Vec<_> = fs::read_dir(path.parent().expect("parent"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        vec![OsString::from("mcp.json")],
        "no temp files left"
    );
}

#[test]
fn write_backs_up_the_old_file_and_never_overwrites_a_backup() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mcp.json");
    fs::write(&path, "old\n").expect("seed");

    let first = write_with_backup(&path, "new\n")
        .expect("write")
        .expect("a backup");
    assert_eq!(fs::read_to_string(&first).expect("read backup"), "old\n");
    assert_eq!(fs::read_to_string(&path).expect("read"), "new\n");
    assert_eq!(first.parent(), Some(dir.path()));
    let name = first
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let stamp = name
        .strip_prefix("mcp.json.mcpauth-backup-")
        .expect("backup name");
    assert!(stamp.split('-').all(|p| p.parse::<u64>().is_ok()), "{name}");

    // Two writes in the same second must not clobber the first backup.
    let second = write_with_backup(&path, "newer\n")
        .expect("write")
        .expect("a backup");
    assert_ne!(first, second);
    assert_eq!(fs::read_to_string(&first).expect("read"), "old\n");
    assert_eq!(fs::read_to_string(&second).expect("read"), "new\n");
    assert_eq!(fs::read_to_string(&path).expect("read"), "newer\n");
    assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 3);
}

#[cfg(unix)]
#[test]
fn write_keeps_permissions_and_writes_through_symlinks() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let dir = tempfile::tempdir().expect("temp dir");
    let real = dir.path().join("real.json");
    fs::write(&real, "old\n").expect("seed");
    fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).expect("chmod");
    let link = dir.path().join("mcp.json");
    symlink(&real, &link).expect("symlink");

    let backup = write_with_backup(&link, "new\n")
        .expect("write")
        .expect("a backup");
    assert!(fs::symlink_metadata(&link)
        .expect("stat")
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&link).expect("read"), "new\n");
    let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&real), 0o640);
    assert_eq!(mode(&backup), 0o640);
    assert_eq!(fs::read_to_string(&backup).expect("read"), "old\n");

    // A link to a file that does not exist yet creates the file, not a regular file in its place.
    let dangling = dir.path().join("dangling.json");
    symlink("sub/target.json", &dangling).expect("symlink");
    assert_eq!(write_with_backup(&dangling, "x\n").expect("write"), None);
    assert!(fs::symlink_metadata(&dangling)
        .expect("stat")
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read_to_string(dir.path().join("sub/target.json")).expect("read"),
        "x\n"
    );
}
