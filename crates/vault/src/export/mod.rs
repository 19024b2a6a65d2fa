//! `mcpauth export`: writes the entry that lets another MCP client use an MCP Auth account.
//!
//! Everything here is pure text work except [`write_with_backup`]: no keyring, no network.
//! The entries hold only a command and a URL, never a token.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonc_parser::cst::{CstInputValue, CstNode, CstObject, CstObjectProp, CstRootNode};
use jsonc_parser::ParseOptions;

/// An MCP client whose config file `mcpauth export` can edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    ClaudeCode,
    ClaudeDesktop,
    VsCode,
    Cursor,
}

impl Target {
    /// Every file target, in the order help text lists them.
    pub const ALL: [Target; 4] = [
        Target::ClaudeCode,
        Target::ClaudeDesktop,
        Target::VsCode,
        Target::Cursor,
    ];

    /// The target named on the command line, if it is one.
    pub fn parse(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Target::ClaudeCode => "claude-code",
            Target::ClaudeDesktop => "claude-desktop",
            Target::VsCode => "vscode",
            Target::Cursor => "cursor",
        }
    }

    /// The client's own name, for messages.
    pub fn product(&self) -> &'static str {
        match self {
            Target::ClaudeCode => "Claude Code",
            Target::ClaudeDesktop => "Claude Desktop",
            Target::VsCode => "VS Code",
            Target::Cursor => "Cursor",
        }
    }

    /// The top-level key that maps server names to entries.
    pub fn container_key(&self) -> &'static str {
        match self {
            Target::VsCode => "servers",
            Target::ClaudeCode | Target::ClaudeDesktop | Target::Cursor => "mcpServers",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to write: one server entry that runs `mcpauth` for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The server entry key.
    pub name: String,
    /// How the entry names the MCP Auth account it hands tokens for: the
    /// server URL when that picks this account (its server's only or default
    /// account), so that a new sign-in to the server serves the entry again
    /// after a sign-out; else the account id.
    pub account: String,
    /// The MCP server URL (Claude Code connects to it directly).
    pub server_url: String,
    /// How to run mcpauth, usually "mcpauth" or an absolute path.
    pub command: String,
    /// The account's tokens work only through the proxy (DPoP-bound, RFC
    /// 9449): every client gets the stdio entry, Claude Code included, since
    /// a token printed for its `headersHelper` would be refused.
    pub proxy_only: bool,
}

/// Why the existing config could not be edited; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// The existing text does not parse as JSON with comments and trailing commas.
    #[error(
        "the {} config is not valid JSON: {message} at line {line}, column {column}; \
         fix the file (or move it aside) and run the export again",
        target.product()
    )]
    InvalidJson {
        target: Target,
        message: String,
        line: usize,
        column: usize,
    },
    /// The document is an array, string or other value instead of an object.
    #[error(
        "the {} config holds {found} at the top level, not an object; \
         it should look like {{\"{}\": {{...}}}}: fix the file (or move it aside) and run the export again",
        target.product(),
        target.container_key()
    )]
    RootNotObject { target: Target, found: &'static str },
    /// `mcpServers` (or `servers`) holds something other than an object.
    #[error(
        "\"{}\" in the {} config is {found}, not an object of servers; \
         fix it by hand so it maps names to servers and run the export again",
        target.container_key(),
        target.product()
    )]
    ContainerNotObject { target: Target, found: &'static str },
    /// The entry has no name to file it under.
    #[error("the server entry name is empty; give the entry a name and run the export again")]
    EmptyName,
}

impl Entry {
    /// The entry for an account: named after the account (or its server's host
    /// and id when the name is a URL), running `command`.
    pub fn for_account(account: &crate::Account, command: &str) -> Self {
        let name = if account.name.contains("://") {
            url::Url::parse(&account.server_url)
                .ok()
                .and_then(|u| u.host_str().map(|h| format!("{h}-{}", account.id)))
                .unwrap_or_else(|| account.id.clone())
        } else {
            account.name.clone()
        };
        Self {
            name,
            account: account.id.clone(),
            server_url: account.server_url.clone(),
            command: command.to_string(),
            proxy_only: account.is_dpop_bound(),
        }
    }
}

/// Where the target's config usually lives; `config_dir` is the platform's (`dirs::config_dir()`).
///
/// Claude Code and VS Code get the project/workspace file under `cwd`; Cursor the user file under
/// `home`. Claude Desktop lives in `<config_dir>/Claude`, which is `~/Library/Application Support`
/// on macOS, `%APPDATA%` on Windows and `$XDG_CONFIG_HOME` (or `~/.config`) on Linux.
pub fn default_path(target: Target, cwd: &Path, home: &Path, config_dir: &Path) -> PathBuf {
    match target {
        Target::ClaudeCode => cwd.join(".mcp.json"),
        Target::VsCode => cwd.join(".vscode").join("mcp.json"),
        Target::Cursor => home.join(".cursor").join("mcp.json"),
        Target::ClaudeDesktop => config_dir.join("Claude").join("claude_desktop_config.json"),
    }
}

/// Where the target's user-wide config lives: what an app with no project in view
/// (the desktop app) should edit. Claude Code keeps user-scope servers in
/// `~/.claude.json` (what `claude mcp add --scope user` writes), VS Code in its
/// user profile's `mcp.json`; Cursor and Claude Desktop have only user files.
pub fn user_path(target: Target, home: &Path, config_dir: &Path) -> PathBuf {
    match target {
        Target::ClaudeCode => home.join(".claude.json"),
        Target::VsCode => config_dir.join("Code").join("User").join("mcp.json"),
        Target::Cursor | Target::ClaudeDesktop => default_path(target, home, home, config_dir),
    }
}

/// The new text of the config file with `entry` added, or replacing the entry of the same name.
///
/// Everything else is kept as written: other entries, key order, comments, trailing commas,
/// indentation, line endings and the final newline. `existing` that is `None` or blank gives a
/// fresh file.
pub fn apply(target: Target, existing: Option<&str>, entry: &Entry) -> Result<String, ExportError> {
    if entry.name.is_empty() {
        return Err(ExportError::EmptyName);
    }
    let fields = entry_fields(target, entry);
    let existing = existing.unwrap_or_default();
    // Editors on Windows may save a byte order mark, which the parser would reject.
    let (bom, text) = match existing.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", existing),
    };
    if text.trim().is_empty() {
        return Ok(fresh(target, &entry.name, &fields));
    }

    let root =
        CstRootNode::parse(text, &parse_options()).map_err(|e| ExportError::InvalidJson {
            target,
            message: e.kind().to_string(),
            line: e.line_display(),
            column: e.column_display(),
        })?;
    let root_obj = match root.value() {
        // A file of nothing but comments: give it an object and keep the comments.
        None => root.object_value_or_set(),
        Some(value) => value.as_object().ok_or(ExportError::RootNotObject {
            target,
            found: kind_of(&value),
        })?,
    };

    let Some(container_prop) = last_prop(&root_obj, target.container_key()) else {
        root_obj.append(
            target.container_key(),
            CstInputValue::Object(vec![(entry.name.clone(), cst_value(&fields))]),
        );
        return Ok(format!("{bom}{root}"));
    };
    let container = match container_prop.value() {
        Some(value) => value.as_object().ok_or(ExportError::ContainerNotObject {
            target,
            found: kind_of(&value),
        })?,
        None => {
            return Err(ExportError::ContainerNotObject {
                target,
                found: "empty",
            })
        }
    };

    match last_prop(&container, &entry.name) {
        Some(prop) => {
            // An entry that already says the same thing keeps the user's formatting.
            let unchanged = prop
                .value()
                .and_then(|v| v.to_serde_value())
                .is_some_and(|v| v == json_value(&fields));
            if !unchanged {
                prop.set_value(cst_value(&fields));
            }
        }
        None => {
            container.append(&entry.name, cst_value(&fields));
        }
    }
    Ok(format!("{bom}{root}"))
}

/// A unified diff (3 lines of context) from `old` to `new`, headed by `path`; empty when equal.
pub fn unified_diff(path: &Path, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&name, &name)
        .to_string()
}

/// Writes `new_text` to `path` atomically, backing up any existing file first.
///
/// The text goes to a temporary file in the same directory that is then renamed over `path`, so a
/// crash leaves either the old file or the new one. An existing file keeps its permissions and is
/// first copied to `<file>.mcpauth-backup-<unix-seconds>` (never over an existing backup), whose
/// path is returned. Missing parent directories are created. A symlink is written through, so the
/// link stays and its target changes (and the backup sits next to the target).
pub fn write_with_backup(path: &Path, new_text: &str) -> io::Result<Option<PathBuf>> {
    let path = resolve_symlinks(path)?;
    let file_name = path
        .file_name()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} does not name a file", path.display()),
            )
        })?
        .to_os_string();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;

    let existing = match fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is a directory", path.display()),
            ))
        }
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let backup = match &existing {
        Some(meta) => Some(back_up(&path, &dir, &file_name, meta)?),
        None => None,
    };

    let (tmp_path, mut tmp) = create_unique(&dir, &file_name, ".mcpauth-tmp-")?;
    let written = (|| {
        tmp.write_all(new_text.as_bytes())?;
        if let Some(meta) = &existing {
            tmp.set_permissions(meta.permissions())?;
        }
        tmp.sync_all()?;
        drop(tmp);
        fs::rename(&tmp_path, &path)
    })();
    if let Err(e) = written {
        // Best effort: the write already failed, and a stray temp file is only clutter.
        let _ = fs::remove_file(&tmp_path);
        return Err(e);
    }
    // Make the rename itself durable where the platform allows opening a directory.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(backup)
}

/// One field of an entry; entries are flat, so strings and string lists are all we need.
enum Field {
    Str(String),
    List(Vec<String>),
}

/// The entry's fields in the order the clients' documentation writes them.
fn entry_fields(target: Target, entry: &Entry) -> Vec<(&'static str, Field)> {
    let proxy_args = || Field::List(vec!["proxy".to_string(), entry.account.clone()]);
    let stdio = || {
        vec![
            ("type", Field::Str("stdio".to_string())),
            ("command", Field::Str(entry.command.clone())),
            ("args", proxy_args()),
        ]
    };
    match target {
        Target::VsCode => stdio(),
        Target::ClaudeCode if entry.proxy_only => stdio(),
        Target::ClaudeCode => vec![
            ("type", Field::Str("http".to_string())),
            ("url", Field::Str(entry.server_url.clone())),
            (
                "headersHelper",
                Field::Str(format!(
                    "{} token {} --format headers-json",
                    shell_word(&entry.command),
                    shell_word(&entry.account)
                )),
            ),
        ],
        Target::ClaudeDesktop | Target::Cursor => vec![
            ("command", Field::Str(entry.command.clone())),
            ("args", proxy_args()),
        ],
    }
}

fn cst_value(fields: &[(&'static str, Field)]) -> CstInputValue {
    CstInputValue::Object(
        fields
            .iter()
            .map(|(key, field)| {
                let value = match field {
                    Field::Str(s) => CstInputValue::String(s.clone()),
                    Field::List(items) => CstInputValue::Array(
                        items
                            .iter()
                            .map(|s| CstInputValue::String(s.clone()))
                            .collect(),
                    ),
                };
                (key.to_string(), value)
            })
            .collect(),
    )
}

fn json_value(fields: &[(&'static str, Field)]) -> serde_json::Value {
    serde_json::Value::Object(
        fields
            .iter()
            .map(|(key, field)| {
                let value = match field {
                    Field::Str(s) => serde_json::Value::from(s.as_str()),
                    Field::List(items) => serde_json::Value::from(items.clone()),
                };
                (key.to_string(), value)
            })
            .collect(),
    )
}

/// A fresh config: two-space indent, `\n` line endings, final newline.
fn fresh(target: Target, name: &str, fields: &[(&'static str, Field)]) -> String {
    let root = CstRootNode::parse("", &parse_options()).expect("the empty document is valid JSONC"); // A constant, not outside input.
    root.object_value_or_set().append(
        target.container_key(),
        CstInputValue::Object(vec![(name.to_string(), cst_value(fields))]),
    );
    let mut text = root.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// JSON plus what JSONC adds (comments, trailing commas) and nothing looser: the clients'
/// own parsers reject single quotes, bare keys and the like.
fn parse_options() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// The last property of that name: JSON parsers keep the last of duplicate keys.
fn last_prop(object: &CstObject, name: &str) -> Option<CstObjectProp> {
    object
        .properties()
        .into_iter()
        .rfind(|p| p.decoded_name().as_deref() == Some(name))
}

fn kind_of(node: &CstNode) -> &'static str {
    if node.as_array().is_some() {
        "an array"
    } else if node.as_string_lit().is_some() {
        "a string"
    } else if node.as_number_lit().is_some() {
        "a number"
    } else if node.as_boolean_lit().is_some() {
        "a boolean"
    } else if node.as_null_keyword().is_some() {
        "null"
    } else {
        "a value that is not an object"
    }
}

/// Quotes `s` as one word for the shell that runs Claude Code's `headersHelper`.
///
/// Plain words stay bare. Otherwise double quotes are preferred because POSIX sh and cmd.exe
/// read them alike when nothing inside is special to either (so Windows paths with spaces work);
/// anything else gets POSIX single quotes.
fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:@+=,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return s.to_string();
    }
    let special_in_double_quotes = |c: char| matches!(c, '"' | '$' | '`' | '!' | '%' | '\n' | '\r');
    if !s.chars().any(special_in_double_quotes) && !s.contains("\\\\") && !s.ends_with('\\') {
        return format!("\"{s}\"");
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Follows `path` through symlinks, even to a target that does not exist yet.
fn resolve_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    // The same bound on a chain of links that Linux puts on path lookups.
    for _ in 0..40 {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&path)?;
                path = match path.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(io::Error::other(format!(
        "too many levels of symbolic links at {}",
        path.display()
    )))
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn sibling(dir: &Path, file_name: &OsString, suffix: &str) -> PathBuf {
    let mut name = file_name.clone();
    name.push(suffix);
    dir.join(name)
}

/// Copies `path` to a new `<file>.mcpauth-backup-<secs>[-n]` with the same permissions.
fn back_up(
    path: &Path,
    dir: &Path,
    file_name: &OsString,
    meta: &fs::Metadata,
) -> io::Result<PathBuf> {
    let stamp = unix_seconds();
    for n in 0..1000u32 {
        let suffix = match n {
            0 => format!(".mcpauth-backup-{stamp}"),
            n => format!(".mcpauth-backup-{stamp}-{n}"),
        };
        let backup = sibling(dir, file_name, &suffix);
        let mut out = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&backup)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let copied = (|| {
            io::copy(&mut File::open(path)?, &mut out)?;
            out.set_permissions(meta.permissions())?;
            out.sync_all()
        })();
        if let Err(e) = copied {
            drop(out);
            let _ = fs::remove_file(&backup);
            return Err(e);
        }
        return Ok(backup);
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("too many backups of {} this second", path.display()),
    ))
}

/// Creates a new file next to the target; `create_new` keeps two runs from sharing one.
fn create_unique(dir: &Path, file_name: &OsString, tag: &str) -> io::Result<(PathBuf, File)> {
    // A leading dot keeps the temporary file out of directory listings and editors' file trees.
    let mut hidden = OsString::from(".");
    hidden.push(file_name);
    let pid = std::process::id();
    for n in 0..1000u32 {
        let candidate = sibling(dir, &hidden, &format!("{tag}{pid}-{n}"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(f) => return Ok((candidate, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("could not create a temporary file in {}", dir.display()),
    ))
}

#[cfg(test)]
mod tests;
