//! The read commands and the simple write commands: token, list, status,
//! refresh, logout, export, discover.

use std::io::{BufRead, Write};

use mcpauth_core::secret::mask;
use mcpauth_vault::model::now_secs;
use mcpauth_vault::{Account, AccountStatus, Vault};
use serde_json::json;

use crate::cli::{ExportArgs, TokenFormat};
use crate::{exit, Failure};
use mcpauth_vault::export::{self, Entry, Target};

pub fn open_vault() -> Result<Vault, Failure> {
    Ok(Vault::open_default()?)
}

/// The account a command names, or the only one when none is named.
pub fn pick(vault: &Vault, selector: Option<&str>) -> Result<Account, Failure> {
    match selector {
        Some(s) => Ok(vault.account(s)?),
        None => {
            let accounts = vault.list()?;
            match accounts.as_slice() {
                [one] => Ok(one.clone()),
                [] => Err(Failure::new(
                    exit::NO_SUCH_ACCOUNT,
                    "no accounts yet; sign in with `mcpauth login <mcp-url>`",
                )),
                many => Err(Failure::new(
                    exit::NO_SUCH_ACCOUNT,
                    format!(
                        "{} accounts exist; name one ({})",
                        many.len(),
                        many.iter()
                            .map(|a| a.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        }
    }
}

fn print_json(value: &serde_json::Value) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value:#}")
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot write: {e}")))
}

pub async fn token(
    selector: Option<&str>,
    format: TokenFormat,
    dpop_proof: Option<&[String]>,
) -> Result<(), Failure> {
    let vault = open_vault()?;
    let account = pick(&vault, selector)?;
    let token = vault.token(&account.id).await?;
    let secret = token.secret();
    let fresh = vault.account(&account.id)?;
    let bound = fresh.is_dpop_bound();
    let proof = match (bound, dpop_proof) {
        (false, None) => None,
        (false, Some(_)) => {
            return Err(Failure::new(
                exit::FAILURE,
                format!(
                    "account {} has a Bearer token, not a DPoP-bound one; leave out --dpop-proof",
                    fresh.id
                ),
            ))
        }
        (true, None) => return Err(bound_refusal(&fresh)),
        (true, Some(request)) => Some(dpop_proof_for(&vault, &fresh, request, secret)?),
    };
    let scheme = if bound {
        mcpauth_core::dpop::SCHEME
    } else {
        "Bearer"
    };
    let text = match format {
        TokenFormat::Raw => match &proof {
            Some(proof) => format!("{secret}\n{proof}"),
            None => secret.to_string(),
        },
        TokenFormat::Header => match &proof {
            Some(proof) => format!("Authorization: {scheme} {secret}\nDPoP: {proof}"),
            None => format!("Authorization: {scheme} {secret}"),
        },
        TokenFormat::HeadersJson => {
            let mut headers = json!({ "Authorization": format!("{scheme} {secret}") });
            if let Some(proof) = &proof {
                headers["DPoP"] = json!(proof);
            }
            headers.to_string()
        }
        TokenFormat::Env => match &proof {
            Some(proof) => format!("MCP_AUTH_TOKEN={secret}\nMCP_AUTH_DPOP={proof}"),
            None => format!("MCP_AUTH_TOKEN={secret}"),
        },
        TokenFormat::Json => {
            let mut value = json!({
                "access_token": secret,
                "token_type": fresh.token_type,
                "expires_at": fresh.expires_at,
                "scope": fresh.granted_scopes,
                "account": fresh.id,
            });
            if let Some(proof) = &proof {
                value["dpop"] = json!(proof);
            }
            value.to_string()
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| Failure::new(exit::FAILURE, format!("cannot write: {e}")))
}

/// Why a DPoP-bound account's token is not printed alone, and what to do.
fn bound_refusal(account: &Account) -> Failure {
    Failure::new(
        exit::FAILURE,
        format!(
            "account {}'s token is bound to a DPoP key (RFC 9449) that never leaves the keyring, \
             so the token alone is refused by {}; reach the server through `mcpauth proxy {}`, \
             or use `mcpauth token --dpop-proof <METHOD> <URL>` for a one-time proof of one request",
            account.id, account.server_url, account.server_url
        ),
    )
}

/// A DPoP proof of the account's key for one request (`[METHOD, URL]`).
fn dpop_proof_for(
    vault: &Vault,
    account: &Account,
    request: &[String],
    token: &str,
) -> Result<String, Failure> {
    let [method, url] = request else {
        return Err(Failure::new(
            exit::FAILURE,
            "--dpop-proof takes a method and a URL, e.g. --dpop-proof POST https://host/mcp",
        ));
    };
    let method = method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Failure::new(
            exit::FAILURE,
            format!("--dpop-proof: `{method}` is not an HTTP method (GET, POST, DELETE, …)"),
        ));
    }
    let url = url::Url::parse(url).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("--dpop-proof: `{url}` is not an absolute URL ({e})"),
        )
    })?;
    let key = vault.bound_key(account)?.ok_or_else(|| {
        Failure::new(
            exit::FAILURE,
            format!(
                "account {} has a Bearer token, not a DPoP-bound one",
                account.id
            ),
        )
    })?;
    key.proof(&method, &url, Some(token), None)
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot make a DPoP proof: {e}")))
}

/// "in 5 min", "3 h ago".
pub fn relative(at: i64, now: i64) -> String {
    let delta = at - now;
    let abs = delta.unsigned_abs();
    let amount = if abs < 90 {
        format!("{abs} s")
    } else if abs < 90 * 60 {
        format!("{} min", abs / 60)
    } else if abs < 36 * 3600 {
        format!("{} h", abs / 3600)
    } else {
        format!("{} d", abs / 86400)
    };
    if delta >= 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

fn status_text(status: &AccountStatus, now: i64) -> String {
    match status {
        AccountStatus::Active {
            expires_at: Some(at),
        } if *at <= now => "expired (refreshes on next use)".into(),
        AccountStatus::Active {
            expires_at: Some(at),
        } => format!("active, expires {}", relative(*at, now)),
        AccountStatus::Active { expires_at: None } => "active, no expiry given".into(),
        AccountStatus::Refreshing => "refreshing".into(),
        AccountStatus::NeedsSignIn { reason } => format!("needs sign-in: {reason}"),
        AccountStatus::Upgrading { scopes } => format!("upgrading to {scopes}"),
        AccountStatus::Error { message, retry_at } => match retry_at {
            Some(at) => format!("error, retrying {}: {message}", relative(*at, now)),
            None => format!("error: {message}"),
        },
        AccountStatus::SignedOut => "signed out".into(),
    }
}

fn account_json(vault: &Vault, account: &Account, with_token: bool) -> serde_json::Value {
    let mut value = serde_json::to_value(account).unwrap_or_default();
    value["next_refresh_at"] = account.next_refresh_at(vault.min_skew_secs()).into();
    if with_token {
        let masked = vault
            .token_bundle(&account.id)
            .ok()
            .flatten()
            .map(|b| mask(&b.access_token));
        value["access_token_masked"] = masked.into();
    }
    value
}

pub fn list(json: bool) -> Result<(), Failure> {
    let vault = open_vault()?;
    let accounts = vault.list()?;
    if json {
        let items: Vec<_> = accounts
            .iter()
            .map(|a| account_json(&vault, a, false))
            .collect();
        return print_json(&json!({ "accounts": items, "storage": vault.storage_backend() }));
    }
    if accounts.is_empty() {
        eprintln!("No accounts yet. Sign in with: mcpauth login <mcp-server-url>");
        return Ok(());
    }
    let now = now_secs();
    let mut out = std::io::stdout().lock();
    // A name that is only the server URL again says nothing: "-".
    let name_of = |a: &mcpauth_vault::Account| {
        if a.name == a.server_url {
            "-".to_string()
        } else {
            a.name.clone()
        }
    };
    let width = accounts
        .iter()
        .map(|a| name_of(a).chars().count())
        .max()
        .unwrap_or(1)
        .clamp(4, 32);
    let _ = writeln!(
        out,
        "  {:<8}  {:<width$} {:<40} {:<16} STATUS",
        "ID", "NAME", "SERVER", "SIGNED IN AS"
    );
    for a in &accounts {
        let default = if a.is_default { "*" } else { " " };
        let who = a.subject.as_deref().unwrap_or("-");
        let _ = writeln!(
            out,
            "{default} {:<8}  {:<width$} {:<40} {:<16} {}",
            a.id,
            name_of(a),
            a.server_url,
            who,
            status_text(&a.status, now)
        );
    }
    Ok(())
}

pub fn status(selector: Option<&str>, json: bool) -> Result<(), Failure> {
    let vault = open_vault()?;
    let accounts = match selector {
        Some(s) => vec![vault.account(s)?],
        None => vault.list()?,
    };
    if json {
        let items: Vec<_> = accounts
            .iter()
            .map(|a| account_json(&vault, a, true))
            .collect();
        return print_json(&json!({
            "accounts": items,
            "storage": vault.storage_backend(),
            "network": mcpauth_core::network::settings(),
        }));
    }
    let now = now_secs();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "storage: {}", vault.storage_backend());
    let network = mcpauth_core::network::settings();
    match network.proxies.as_slice() {
        [] => {
            let _ = writeln!(out, "proxy: none (no HTTPS_PROXY, HTTP_PROXY or ALL_PROXY)");
        }
        proxies => {
            for (name, value) in proxies {
                let _ = writeln!(out, "proxy: {name}={value}");
            }
            if let Some(no_proxy) = &network.no_proxy {
                let _ = writeln!(out, "proxy: not for NO_PROXY={no_proxy}");
            }
        }
    }
    let _ = writeln!(out, "trusted certificates: {}", network.trust.join(", "));
    for a in &accounts {
        let masked = vault
            .token_bundle(&a.id)
            .ok()
            .flatten()
            .map(|b| mask(&b.access_token))
            .unwrap_or_else(|| "(none in the keyring)".into());
        let when = |t: Option<i64>| t.map(|t| relative(t, now)).unwrap_or_else(|| "-".into());
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} ({}){}",
            a.id,
            a.name,
            if a.is_default { ", default" } else { "" }
        );
        let _ = writeln!(out, "  server:          {}", a.server_url);
        let _ = writeln!(
            out,
            "  signed in as:    {}",
            a.subject.as_deref().unwrap_or("-")
        );
        let _ = writeln!(
            out,
            "  authorization:   {} (client {}, {:?})",
            a.issuer, a.client_id, a.registration
        );
        if let Some(source) = &a.assertion_source {
            let _ = writeln!(
                out,
                "  grant:           JWT bearer (workload identity), the JWT read from {source} at every token request"
            );
        }
        let _ = writeln!(out, "  status:          {}", status_text(&a.status, now));
        let _ = writeln!(out, "  granted scopes:  {}", a.granted_scopes);
        let _ = writeln!(out, "  offered scopes:  {}", a.offered_scopes);
        let _ = writeln!(out, "  token:           {masked} ({})", a.token_type);
        if let (true, Some(jkt)) = (a.is_dpop_bound(), &a.dpop_jkt) {
            let _ = writeln!(
                out,
                "  bound to:        this device's DPoP key (thumbprint {jkt}), kept in the keyring; use it through `mcpauth proxy`"
            );
        }
        match &a.grant_holder {
            Some(holder) => {
                let _ = writeln!(
                    out,
                    "  refresh token:   account {holder}'s, whose sign-in at {} this account shares",
                    a.issuer
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  refresh token:   {}",
                    if a.has_refresh_token { "yes" } else { "no" }
                );
            }
        }
        let _ = writeln!(out, "  last refresh:    {}", when(a.last_refresh_at));
        let _ = writeln!(
            out,
            "  next refresh:    {}",
            when(a.next_refresh_at(vault.min_skew_secs()))
        );
    }
    Ok(())
}

pub async fn refresh(selector: &str, json: bool) -> Result<(), Failure> {
    let vault = open_vault()?;
    let account = vault.refresh_now(selector).await?;
    if json {
        return print_json(&account_json(&vault, &account, true));
    }
    eprintln!(
        "Refreshed {}: {}",
        account.id,
        status_text(&account.status, now_secs())
    );
    Ok(())
}

pub async fn logout(selector: &str, json: bool) -> Result<(), Failure> {
    let vault = open_vault()?;
    let report = vault.sign_out(selector).await?;
    let describe = mcpauth_vault::describe_revocation;
    if json {
        return print_json(&json!({
            "account": report.account,
            "revocation_supported": report.revocation_supported,
            "refresh_token": describe(&report.refresh_token),
            "access_token": describe(&report.access_token),
            "fully_revoked": report.fully_revoked(),
            "deleted": true,
            "shared_sign_in_ended": report.shared_ended,
        }));
    }
    if !report.shared_ended.is_empty() {
        eprintln!(
            "These accounts shared its sign-in and now need one of their own (mcpauth login <url>): {}",
            report.shared_ended.join(", ")
        );
    }
    if !report.revocation_supported {
        eprintln!("Signed out of {}; the authorization server offers no revocation, so the tokens stay valid there until they expire.", report.account);
    } else {
        eprintln!(
            "Signed out of {}: refresh token {}, access token {}. The account and its secrets are deleted.",
            report.account,
            describe(&report.refresh_token),
            describe(&report.access_token)
        );
    }
    Ok(())
}

pub async fn discover(
    url: &str,
    authorization_server: Option<String>,
    json: bool,
) -> Result<(), Failure> {
    let http = mcpauth_core::http::ReqwestHttp::new()?;
    let options = mcpauth_core::discovery::DiscoverOptions {
        authorization_server,
        ..Default::default()
    };
    let found = mcpauth_core::discovery::discover(&http, url, &options).await?;
    let scopes = mcpauth_core::scopes::select_scopes(
        found.challenge.as_ref(),
        found.resource_metadata.as_ref(),
        &found.metadata,
    );
    if json {
        let mut value = serde_json::to_value(&found).unwrap_or_default();
        value["selected_scopes"] = scopes.map(|s| s.to_string()).into();
        return print_json(&value);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "MCP server:            {}", found.mcp_url);
    let _ = writeln!(out, "resource:              {}", found.resource);
    let _ = writeln!(
        out,
        "resource metadata:     {}",
        found
            .resource_metadata_url
            .as_deref()
            .unwrap_or("none (2025-03-26 server)")
    );
    let _ = writeln!(out, "authorization server:  {}", found.issuer);
    let _ = writeln!(
        out,
        "server metadata:       {}",
        found
            .metadata_url
            .as_deref()
            .unwrap_or("none (default endpoints assumed)")
    );
    let _ = writeln!(
        out,
        "scopes to request:     {}",
        scopes
            .map(|s| s.to_string())
            .unwrap_or_else(|| "(none)".into())
    );
    let registration = if found.metadata.client_id_metadata_document_supported {
        "client ID metadata document (or dynamic registration)"
    } else if found.metadata.registration_endpoint.is_some() {
        "dynamic client registration"
    } else {
        "a pre-registered client is needed (--client-id)"
    };
    let _ = writeln!(out, "registration:          {registration}");
    Ok(())
}

/// How to run this very program from another tool's config.
fn own_command() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .unwrap_or_else(|| "mcpauth".into())
}

pub async fn export(args: ExportArgs) -> Result<(), Failure> {
    let vault = open_vault()?;
    let account = vault.account(&args.account)?;
    match args.target.as_str() {
        "env" | "curl" if account.is_dpop_bound() => return Err(bound_refusal(&account)),
        "env" | "curl" => {
            let token = vault.token(&account.id).await?;
            let line = if args.target == "env" {
                format!("MCP_AUTH_TOKEN={}", token.secret())
            } else {
                format!("-H \"Authorization: Bearer {}\"", token.secret())
            };
            println!("{line}");
            return Ok(());
        }
        _ => {}
    }
    let target = Target::parse(&args.target).ok_or_else(|| {
        Failure::new(
            exit::FAILURE,
            format!("unknown export target `{}`; use claude-code, claude-desktop, vscode, cursor, env or curl", args.target),
        )
    })?;
    let mut entry = Entry::for_account(&account, &own_command());
    entry.account = vault.export_selector(&account);
    if let Some(name) = &args.name {
        entry.name = name.clone();
    }
    let path = match &args.file {
        Some(p) => p.clone(),
        None => {
            let cwd =
                std::env::current_dir().map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
            let home = dirs::home_dir()
                .ok_or_else(|| Failure::new(exit::FAILURE, "no home directory; pass --file"))?;
            let config = dirs::config_dir().unwrap_or_else(|| home.join(".config"));
            export::default_path(target, &cwd, &home, &config)
        }
    };
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Failure::new(
                exit::FAILURE,
                format!("cannot read {}: {e}", path.display()),
            ))
        }
    };
    let new_text = export::apply(target, existing.as_deref(), &entry)
        .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", path.display())))?;
    if args.print {
        print!("{new_text}");
        return Ok(());
    }
    if existing.as_deref() == Some(new_text.as_str()) {
        eprintln!("{} already has this entry; nothing to do.", path.display());
        return Ok(());
    }
    eprint!(
        "{}",
        export::unified_diff(&path, existing.as_deref().unwrap_or(""), &new_text)
    );
    if !args.yes && !confirm(&format!("Write {}? [y/N] ", path.display()))? {
        return Err(Failure::new(
            exit::FAILURE,
            "not written (answer y, or pass --yes)",
        ));
    }
    let backup = export::write_with_backup(&path, &new_text).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot write {}: {e}", path.display()),
        )
    })?;
    match backup {
        Some(b) => eprintln!(
            "Wrote {} (the previous version is in {}).",
            path.display(),
            b.display()
        ),
        None => eprintln!("Wrote {}.", path.display()),
    }
    Ok(())
}

fn confirm(question: &str) -> Result<bool, Failure> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot read the answer: {e}")))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        assert_eq!(relative(100, 40), "in 60 s");
        assert_eq!(relative(0, 600), "10 min ago");
        assert_eq!(relative(7200 * 3, 0), "in 6 h");
        assert_eq!(relative(0, 86400 * 3), "3 d ago");
    }
}
