//! The commands the front end calls: each a few lines over the vault.
//! Only `reveal_token` returns a token to the webview; copy commands put it
//! on the clipboard (and clear it after 60 s if it is still there).

use std::time::Duration;

use mcpauth_core::scopes::Scopes;
use mcpauth_core::secret::mask;
use mcpauth_vault::export::{self, Entry, Target};
use mcpauth_vault::{
    ClientChoice, ClientCredential, MachineAccountRequest, RedirectMode, SharedSignIn,
    SignInRequest, UpgradeOutcome,
};
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::dto::*;
use crate::state::AppState;
use crate::window::WindowMemory;

type Result<T> = std::result::Result<T, AppError>;

/// The deep-link redirect the app receives through tauri-plugin-deep-link.
pub const DEEP_LINK_REDIRECT: &str = "mcpauth://oauth/callback";

fn view(state: &AppState, a: &mcpauth_vault::Account) -> AccountView {
    AccountView::new(a, state.vault.min_skew_secs())
}

#[tauri::command]
pub fn list_accounts(state: State<'_, AppState>) -> Result<Vec<AccountView>> {
    Ok(state
        .vault
        .list()?
        .iter()
        .map(|a| view(&state, a))
        .collect())
}

#[tauri::command]
pub fn account_detail(state: State<'_, AppState>, id: String) -> Result<AccountDetail> {
    let account = state.vault.account(&id)?;
    let bundle = state.vault.token_bundle(&id).ok().flatten();
    let audience = bundle
        .as_ref()
        .and_then(|b| jwt_claim(&b.access_token, "aud"));
    Ok(AccountDetail {
        account: view(&state, &account),
        activity: state
            .vault
            .activity(&id)?
            .iter()
            .map(ActivityView::from)
            .rev()
            .collect(),
        token_masked: bundle.as_ref().map(|b| mask(&b.access_token)),
        audience,
    })
}

/// A claim of a JWT, for display only (no signature check: it is our own token).
fn jwt_claim(jwt: &str, claim: &str) -> Option<String> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    match value.get(claim)? {
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[tauri::command]
pub async fn discover(
    app: AppHandle,
    state: State<'_, AppState>,
    url: String,
    authorization_server: Option<String>,
    request: Option<String>,
) -> Result<DiscoveryPreview> {
    use mcpauth_core::discovery::DiscoveryProgress;
    let http = mcpauth_core::http::ReqwestHttp::new()?;
    let options = mcpauth_core::discovery::DiscoverOptions {
        authorization_server,
        ..Default::default()
    };
    // Each step goes to the front end as it resolves; an error belongs to the
    // step after the last one reported.
    let steps = std::sync::Mutex::new(Vec::<DiscoveryStep>::new());
    let report = |progress: DiscoveryProgress| {
        let step = match progress {
            DiscoveryProgress::Probed { status, challenge } => DiscoveryStep {
                name: STEP_NAMES[0].into(),
                found: true,
                detail: if (200..300).contains(&status) {
                    format!("{url} answered without a token; it asks for one later, on the calls it protects")
                } else {
                    format!(
                        "{url} asked for a token{}",
                        challenge
                            .as_ref()
                            .and_then(|c| c.scope.as_ref())
                            .map(|s| format!(" (scope {s})"))
                            .unwrap_or_default()
                    )
                },
            },
            DiscoveryProgress::ResourceMetadata { url, resource, .. } => DiscoveryStep {
                name: STEP_NAMES[1].into(),
                found: url.is_some(),
                detail: match url {
                    Some(u) => format!("{u} → resource {resource}"),
                    None => "not published: this server follows the older 2025-03-26 \
                             specification, so its own origin is taken as the authorization server"
                        .into(),
                },
            },
            DiscoveryProgress::AuthorizationServer {
                issuer,
                metadata_url,
            } => DiscoveryStep {
                name: STEP_NAMES[2].into(),
                found: metadata_url.is_some(),
                detail: format!(
                    "{issuer} ({})",
                    metadata_url
                        .as_deref()
                        .unwrap_or("no metadata: default endpoints")
                ),
            },
        };
        let mut steps = steps.lock().unwrap_or_else(|e| e.into_inner());
        emit_step(&app, request.as_deref(), steps.len(), &step);
        steps.push(step);
    };
    let found =
        match mcpauth_core::discovery::discover_reporting(&http, &url, &options, &report).await {
            Ok(found) => found,
            Err(e) => {
                let done = steps.lock().unwrap_or_else(|e| e.into_inner()).len();
                let mut error = AppError::from(e);
                error.step = Some(STEP_NAMES[done.min(STEP_NAMES.len() - 1)].into());
                return Err(error);
            }
        };
    let settings = state.settings();
    let registration = if found.metadata.client_id_metadata_document_supported
        && settings.client_metadata_url.is_some()
    {
        "metadata_document"
    } else if found.metadata.registration_endpoint.is_some() {
        "dynamic"
    } else {
        "pre_registered"
    };
    let challenged = found
        .challenge
        .as_ref()
        .and_then(|c| c.scope.clone())
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let existing_accounts = match url::Url::parse(&found.mcp_url) {
        Ok(u) => state.vault.serving(&u)?.into_iter().map(|a| a.id).collect(),
        Err(_) => Vec::new(),
    };
    // An offer is a convenience: without it, the browser is still the way in.
    let share_offers = match state.vault.share_offers(&found) {
        Ok(offers) => offers.iter().map(ShareOfferView::from).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not list the sign-ins to share");
            Vec::new()
        }
    };
    let mut steps = steps.into_inner().unwrap_or_else(|e| e.into_inner());
    let registration_step = DiscoveryStep {
        name: STEP_NAMES[3].into(),
        detail: registration.replace('_', " "),
        found: true,
    };
    emit_step(&app, request.as_deref(), steps.len(), &registration_step);
    steps.push(registration_step);
    Ok(DiscoveryPreview {
        authorization_servers: found
            .resource_metadata
            .as_ref()
            .map(|p| p.authorization_servers.clone())
            .unwrap_or_else(|| vec![found.issuer.clone()]),
        offered_scopes: found.offered_scopes(),
        mcp_url: found.mcp_url,
        resource: found.resource,
        resource_metadata_url: found.resource_metadata_url,
        issuer: found.issuer,
        metadata_url: found.metadata_url,
        registration: registration.into(),
        challenged_scopes: challenged,
        legacy: found.legacy,
        steps,
        existing_accounts,
        share_offers,
    })
}

/// Sends a resolved discovery step to the front end that asked with `request`.
fn emit_step(app: &AppHandle, request: Option<&str>, index: usize, step: &DiscoveryStep) {
    if let Some(request) = request {
        let _ = app.emit(
            "discovery-step",
            DiscoveryStepEvent {
                request: request.to_string(),
                index: index as u32,
                step: step.clone(),
            },
        );
    }
}

/// The discovery steps as the Add server screen names them (ui/src/lib/errors.ts).
const STEP_NAMES: [&str; 4] = [
    "MCP server",
    "Protected resource metadata",
    "Authorization server",
    "Client registration",
];

fn scopes_of(list: &[String]) -> Option<Scopes> {
    let s = Scopes::parse(&list.join(" "));
    (!s.is_empty()).then_some(s)
}

/// Starts a sign-in, opens the browser, and finishes in the background.
pub async fn start_sign_in(
    app: &AppHandle,
    state: &AppState,
    request: SignInRequest,
    purpose: &str,
) -> Result<SignInStarted> {
    let server_url = request.mcp_url.clone();
    let account_id = request.account.clone();
    let before = match &account_id {
        Some(id) => state
            .vault
            .account(id)?
            .granted_scopes
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    };
    let requested = request
        .scopes
        .iter()
        .flat_map(|s| s.iter())
        .map(str::to_string);
    // An upgrade asks for what the account had and more.
    let mut asked = if purpose == "upgrade" {
        before.clone()
    } else {
        Vec::new()
    };
    for scope in requested {
        if !asked.contains(&scope) {
            asked.push(scope);
        }
    }
    let sign_in = state.vault.begin_sign_in(request).await?;
    let url = url::Url::parse(&sign_in.authorization_url)
        .map_err(|e| AppError::new("failure", e.to_string()))?;
    let browser = match mcpauth_vault::browser::open(&url) {
        Ok(program) => format!("opened with {program}"),
        Err(e) => format!("could not open a browser ({}); open the link yourself", e.0),
    };
    let started = SignInStarted {
        id: sign_in.id.clone(),
        authorization_server_host: sign_in.authorization_server_host.clone(),
        redirect_uri: sign_in.redirect_uri.clone(),
        scopes: sign_in
            .scopes
            .as_ref()
            .map(|s| s.iter().map(str::to_string).collect())
            .unwrap_or_default(),
        browser,
        authorization_url: sign_in.authorization_url.clone(),
    };
    app.state::<WindowMemory>().started(SignInProgress {
        started: started.clone(),
        purpose: purpose.into(),
        account_id,
        before,
        asked,
        server_url,
    });
    if sign_in.redirect_uri.starts_with("http://") {
        let vault = state.vault.clone();
        let app2 = app.clone();
        let id = sign_in.id.clone();
        let task = tauri::async_runtime::spawn(async move {
            let result = vault.finish_sign_in(sign_in).await;
            finished(&app2, Some(id), result);
        });
        state
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(started.id.clone(), task);
    }
    Ok(started)
}

/// Tells the front end how a sign-in ended and brings the window forward.
pub fn finished(
    app: &AppHandle,
    id: Option<String>,
    result: mcpauth_vault::Result<mcpauth_vault::Account>,
) {
    let state = app.state::<AppState>();
    if let Some(id) = &id {
        state
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
    let event = match result {
        Ok(account) => SignInFinished {
            id,
            account: Some(view(&state, &account)),
            error: None,
        },
        Err(e) => SignInFinished {
            id,
            account: None,
            error: Some(e.to_string()),
        },
    };
    crate::window::send_finished(app, event);
    crate::focus_main_window(app);
}

/// The vault's sign-in request for the Add server form (or a sign-in again).
fn sign_in_request(state: &AppState, options: SignInOptions) -> SignInRequest {
    let redirect = match options.redirect.as_str() {
        "deep_link" => RedirectMode::Fixed(DEEP_LINK_REDIRECT.into()),
        _ => RedirectMode::default(),
    };
    SignInRequest {
        mcp_url: options.mcp_url,
        name: options.name.filter(|n| !n.trim().is_empty()),
        scopes: scopes_of(&options.scopes),
        redirect,
        client: ClientChoice {
            client_id: options.client_id.filter(|c| !c.trim().is_empty()),
            credential: options.client_secret.filter(|s| !s.is_blank()).map(|s| {
                ClientCredential::Secret {
                    value: s.secret().to_string(),
                }
            }),
            client_metadata_url: state.settings().client_metadata_url,
        },
        authorization_server: options.authorization_server,
        account: options.account,
        probe: None,
    }
}

#[tauri::command]
pub async fn begin_sign_in(
    app: AppHandle,
    state: State<'_, AppState>,
    options: SignInOptions,
) -> Result<SignInStarted> {
    let request = sign_in_request(&state, options);
    let purpose = if request.account.is_some() {
        "reauth"
    } else {
        "add"
    };
    start_sign_in(&app, &state, request, purpose).await
}

/// Adds a server with the sign-in of account `through` at the same
/// authorization server: its refresh token asked for the new server's
/// resource (RFC 8707 §2.2), no browser. A refusal makes no account.
#[tauri::command]
pub async fn share_sign_in(
    state: State<'_, AppState>,
    options: SignInOptions,
    through: String,
) -> Result<SharedSignInResult> {
    let request = sign_in_request(&state, options);
    match state
        .vault
        .sign_in_with_shared_grant(&request, Some(&through))
        .await?
    {
        SharedSignIn::Added { account, holder } => Ok(SharedSignInResult {
            account: Some(view(&state, &account)),
            holder: view(&state, &holder),
            refused: None,
        }),
        SharedSignIn::Refused { reason, holder } => Ok(SharedSignInResult {
            account: None,
            holder: view(&state, &holder),
            refused: Some(reason),
        }),
        SharedSignIn::NotTried(why) => Err(AppError::new(
            "failure",
            why.unwrap_or_else(|| format!("account {through} has no sign-in to share")),
        )),
    }
}

#[tauri::command]
pub fn cancel_sign_in(
    state: State<'_, AppState>,
    memory: State<'_, WindowMemory>,
    id: String,
) -> bool {
    memory.cancelled(&id);
    if let Some(task) = state
        .waiting
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id)
    {
        task.abort();
    }
    state.vault.cancel_sign_in(&id)
}

#[tauri::command]
pub async fn refresh_now(state: State<'_, AppState>, id: String) -> Result<AccountView> {
    let account = state.vault.refresh_now(&id).await?;
    Ok(view(&state, &account))
}

#[tauri::command]
pub async fn upgrade_scopes(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    scopes: Vec<String>,
) -> Result<UpgradeResult> {
    let added = scopes_of(&scopes)
        .ok_or_else(|| AppError::new("failure", "choose at least one scope to add"))?;
    match state.vault.upgrade_by_refresh(&id, &added).await? {
        UpgradeOutcome::Granted(account) => Ok(UpgradeResult {
            granted: true,
            account: Some(view(&state, &account)),
            sign_in: None,
            reason: None,
        }),
        UpgradeOutcome::NeedsReauthorization { scopes, reason } => {
            let account = state.vault.account(&id)?;
            let request = SignInRequest {
                mcp_url: account.server_url.clone(),
                scopes: Some(scopes),
                account: Some(id),
                ..Default::default()
            };
            let started = start_sign_in(&app, &state, request, "upgrade").await?;
            Ok(UpgradeResult {
                granted: false,
                account: None,
                sign_in: Some(started),
                reason: Some(reason),
            })
        }
    }
}

#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>, id: String) -> Result<SignOutResult> {
    let report = state.vault.sign_out(&id).await?;
    let describe = mcpauth_vault::describe_revocation;
    Ok(SignOutResult {
        fully_revoked: report.fully_revoked(),
        account: report.account.clone(),
        revocation_supported: report.revocation_supported,
        refresh_token: describe(&report.refresh_token),
        access_token: describe(&report.access_token),
        shared_ended: report.shared_ended.clone(),
    })
}

#[tauri::command]
pub async fn add_machine_account(
    state: State<'_, AppState>,
    options: MachineAccountOptions,
) -> Result<AccountView> {
    let credential = match (
        options.client_secret.filter(|s| !s.is_blank()),
        options.private_key.filter(|k| !k.is_blank()),
    ) {
        (Some(secret), None) => ClientCredential::Secret {
            value: secret.secret().to_string(),
        },
        (None, Some(key)) => ClientCredential::PrivateKey {
            pem_or_jwk: key.secret().to_string(),
            alg: options.signing_alg.filter(|a| !a.is_empty()),
        },
        _ => {
            return Err(AppError::new(
                "failure",
                "give either a client secret or a private key",
            ))
        }
    };
    let assertion = options
        .idp
        .as_ref()
        .map(|idp| crate::idp::assertion_through(&state, idp))
        .transpose()?;
    let account = state
        .vault
        .add_machine_account(MachineAccountRequest {
            mcp_url: options.mcp_url,
            name: options.name.filter(|n| !n.trim().is_empty()),
            client_id: options.client_id,
            credential: Some(credential),
            assertion,
            scopes: scopes_of(&options.scopes),
            authorization_server: None,
            probe: None,
        })
        .await?;
    Ok(view(&state, &account))
}

#[tauri::command]
pub fn set_default(state: State<'_, AppState>, id: String) -> Result<()> {
    Ok(state.vault.set_default(&id)?)
}

fn export_plan(
    state: &AppState,
    target: &str,
    id: &str,
    path: Option<String>,
) -> Result<ExportPlan> {
    let target = Target::parse(target)
        .ok_or_else(|| AppError::new("failure", format!("unknown export target {target}")))?;
    let account = state.vault.account(id)?;
    let home = dirs::home_dir().ok_or_else(|| AppError::new("failure", "no home directory"))?;
    let config = dirs::config_dir().unwrap_or_else(|| home.join(".config"));
    // The app has no project in view (its working directory is wherever the
    // desktop started it): user-wide files unless the user names one.
    let path = path
        .filter(|p| !p.trim().is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| export::user_path(target, &home, &config));
    if path.is_relative() {
        return Err(AppError::new(
            "failure",
            format!(
                "`{}` is a relative path; give the config file's full path",
                path.display()
            ),
        ));
    }
    let existing = std::fs::read_to_string(&path).ok();
    let command = crate::cli::command();
    let mut entry = Entry::for_account(
        &account,
        &command
            .as_deref()
            .map_or("mcpauth".into(), |p| p.display().to_string()),
    );
    entry.account = state.vault.export_selector(&account);
    let new_text = export::apply(target, existing.as_deref(), &entry)
        .map_err(|e| AppError::new("failure", e.to_string()))?;
    Ok(ExportPlan {
        path,
        existing,
        new_text,
        target,
        command: entry.command,
        command_found: command.is_some(),
    })
}

/// What an export would write, and where.
struct ExportPlan {
    path: std::path::PathBuf,
    existing: Option<String>,
    new_text: String,
    target: Target,
    command: String,
    command_found: bool,
}

#[tauri::command]
pub fn export_preview(
    state: State<'_, AppState>,
    target: String,
    id: String,
    path: Option<String>,
) -> Result<ExportPreview> {
    let plan = export_plan(&state, &target, &id, path)?;
    let existing = plan.existing.as_deref();
    Ok(ExportPreview {
        target: plan.target.name().into(),
        diff: export::unified_diff(&plan.path, existing.unwrap_or(""), &plan.new_text),
        unchanged: existing == Some(plan.new_text.as_str()),
        path: plan.path.display().to_string(),
        command: plan.command,
        command_found: plan.command_found,
    })
}

#[tauri::command]
pub fn export_write(
    state: State<'_, AppState>,
    target: String,
    id: String,
    path: Option<String>,
) -> Result<String> {
    let ExportPlan { path, new_text, .. } = export_plan(&state, &target, &id, path)?;
    let backup = export::write_with_backup(&path, &new_text)
        .map_err(|e| AppError::new("failure", format!("cannot write {}: {e}", path.display())))?;
    Ok(match backup {
        Some(b) => format!(
            "Wrote {} (previous version in {})",
            path.display(),
            b.display()
        ),
        None => format!("Wrote {}", path.display()),
    })
}

/// Puts text on the clipboard and clears it after 60 s if it is still there.
fn copy_secret(app: &AppHandle, text: String) -> Result<()> {
    app.clipboard()
        .write_text(text.clone())
        .map_err(|e| AppError::new("failure", format!("clipboard: {e}")))?;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        if app.clipboard().read_text().ok().as_deref() == Some(text.as_str()) {
            let _ = app.clipboard().write_text(String::new());
        }
    });
    Ok(())
}

#[tauri::command]
pub async fn copy_token(app: AppHandle, state: State<'_, AppState>, id: String) -> Result<()> {
    let token = state.vault.token(&id).await?;
    copy_secret(&app, token.secret().to_string())
}

#[tauri::command]
pub async fn copy_header(app: AppHandle, state: State<'_, AppState>, id: String) -> Result<()> {
    // A DPoP-bound token needs a fresh proof of a key that never leaves the
    // keyring with every request: a header alone would be refused.
    let account = state.vault.account(&id)?;
    if account.is_dpop_bound() {
        return Err(AppError::new(
            "dpop_bound",
            format!(
                "this token is bound to a DPoP key that never leaves the keyring, so a copied header \
                 would be refused by {}; reach the server through `mcpauth proxy {}` (Export does that for you)",
                account.server_url, account.id
            ),
        ));
    }
    let token = state.vault.token(&id).await?;
    copy_secret(&app, format!("Authorization: Bearer {}", token.secret()))
}

/// The one command that returns a token to the webview, for the reveal button.
#[tauri::command]
pub async fn reveal_token(state: State<'_, AppState>, id: String) -> Result<String> {
    Ok(state.vault.token(&id).await?.secret().to_string())
}

#[tauri::command]
pub fn import_candidates(state: State<'_, AppState>) -> Result<Vec<ImportCandidateView>> {
    let home = dirs::home_dir().ok_or_else(|| AppError::new("failure", "no home directory"))?;
    let config = dirs::config_dir().unwrap_or_else(|| home.join(".config"));
    let accounts = state.vault.list()?;
    Ok(mcpauth_vault::import::remote_servers(&home, &config)
        .into_iter()
        .map(|c| {
            let canonical = url::Url::parse(&c.url)
                .map(|u| mcpauth_core::discovery::canonical_resource(&u))
                .unwrap_or_default();
            // An entry MCP Auth wrote works only while the account it names
            // resolves: after a sign-out it is not "signed in", whoever else
            // serves its URL.
            let signed_in = match &c.mcpauth_account {
                Some(selector) => state.vault.account(selector).is_ok(),
                None => accounts.iter().any(|a| a.serves(&canonical)),
            };
            ImportCandidateView {
                signed_in,
                source: c.source,
                name: c.name,
                url: c.url,
                config_path: c.config_path.display().to_string(),
            }
        })
        .collect())
}

#[tauri::command]
pub fn get_settings(app: AppHandle, state: State<'_, AppState>) -> Settings {
    use tauri_plugin_autostart::ManagerExt;
    let mut settings = state.settings();
    // The login item is the truth: the user may have removed it elsewhere.
    if let Ok(enabled) = app.autolaunch().is_enabled() {
        settings.start_at_login = enabled;
    }
    settings
}

#[tauri::command]
pub fn set_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<Settings> {
    use tauri_plugin_autostart::ManagerExt;
    if let Some(url) = settings
        .client_metadata_url
        .as_deref()
        .filter(|u| !u.is_empty())
    {
        mcpauth_core::registration::check_client_metadata_url(url)?;
    }
    if !matches!(settings.redirect.as_str(), "loopback" | "deep_link") {
        return Err(AppError::new(
            "failure",
            "the redirect is loopback or deep_link",
        ));
    }
    let autostart = app.autolaunch();
    if autostart.is_enabled().ok() != Some(settings.start_at_login) {
        let changed = if settings.start_at_login {
            autostart.enable()
        } else {
            autostart.disable()
        };
        changed.map_err(|e| {
            AppError::new(
                "failure",
                format!(
                    "could not {} starting at login: {e}",
                    if settings.start_at_login {
                        "turn on"
                    } else {
                        "turn off"
                    }
                ),
            )
        })?;
    }
    // The identity providers are changed by their own commands only.
    state.update_settings(|current| {
        let providers = std::mem::take(&mut current.identity_providers);
        *current = settings;
        current.identity_providers = providers;
    })
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        storage_backend: state.vault.storage_backend().into(),
        home: state.vault.home().display().to_string(),
    }
}

/// Starts the sign-in a confirmed `mcpauth://signin` link asked for (the UI calls it after the user's click).
#[tauri::command]
pub async fn pending_link(state: State<'_, crate::links::LinkState>) -> Result<Option<SignInLink>> {
    Ok(state.take())
}

/// Callback refusals that arrived before the front end listened (called once at start).
#[tauri::command]
pub fn pending_notices(state: State<'_, crate::links::LinkState>) -> Vec<String> {
    state.take_notices()
}

/// The front end's first render of the accounts list (start-up time, see `startup`).
#[tauri::command]
pub fn first_render(
    memory: State<'_, WindowMemory>,
    accounts: u32,
    marks: Vec<crate::dto::StartupMark>,
) {
    crate::startup::first_render(accounts, &marks, memory.route().as_deref());
}

/// What a new page picks up: the sign-ins in progress, and how the ones that
/// finished while no page listened ended. Events go to the page from now on.
#[tauri::command]
pub fn window_state(memory: State<'_, WindowMemory>) -> WindowState {
    memory.take_state()
}

/// The screen the page shows now, for the next window after this one closes.
#[tauri::command]
pub fn remember_route(memory: State<'_, WindowMemory>, hash: String) {
    memory.remember_route(&hash);
}
