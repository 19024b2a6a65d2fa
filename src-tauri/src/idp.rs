//! Organisation sign-in (MCP SEP-990) in the app: the identity providers the
//! user signs in at from Settings, kept in the settings file (issuer and
//! client only; the grant is in the keyring), and the accounts that get their
//! tokens through them.

use mcpauth_vault::{Account, AssertionSource, IdTokenSource, IdpLink};
use tauri::{AppHandle, Emitter, State};

use crate::dto::{
    AppError, IdentityProvider, IdentityProviderOptions, IdentityProviderView, IdpSignInStarted,
};
use crate::state::AppState;

type Result<T> = std::result::Result<T, AppError>;

/// The link to an IdP whose ID token is MCP Auth's own sign-in there.
fn link(idp: &IdentityProvider) -> IdpLink {
    IdpLink {
        issuer: idp.issuer.clone(),
        client_id: idp.client_id.clone(),
        id_token: IdTokenSource::SignIn,
    }
}

/// The identity provider's issuer and client as the user typed them, checked.
/// The issuer is kept exactly (a trailing slash included): discovery compares
/// it with the one the IdP's metadata names, character for character.
fn checked(issuer: &str, client_id: &str) -> Result<IdentityProvider> {
    let issuer = issuer.trim();
    mcpauth_core::http::parse_secure("identity provider issuer", issuer)?;
    let client_id = client_id.trim();
    if client_id.is_empty() {
        return Err(AppError::new(
            "failure",
            "give MCP Auth's client id at the identity provider (your administrator has it)",
        ));
    }
    Ok(IdentityProvider {
        issuer: issuer.to_string(),
        client_id: client_id.to_string(),
    })
}

/// The servers of `accounts` that get their tokens through `link`'s IdP and client.
fn servers_of(accounts: &[Account], link: &IdpLink) -> Vec<String> {
    accounts
        .iter()
        .filter(|a| {
            matches!(&a.assertion_source, Some(AssertionSource::IdJag(l))
                if l.issuer == link.issuer && l.client_id == link.client_id)
        })
        .map(|a| a.server_url.clone())
        .collect()
}

fn view(state: &AppState, accounts: &[Account], link: &IdpLink) -> Result<IdentityProviderView> {
    let id_token_from = match &link.id_token {
        IdTokenSource::SignIn => None,
        IdTokenSource::File(path) => Some(format!("the file {}", path.display())),
        IdTokenSource::Env(name) => Some(format!("the environment variable {name}")),
    };
    // Only MCP Auth's own sign-in is looked up in the keyring.
    let who = match id_token_from {
        None => state.vault.idp_signed_in(link)?,
        Some(_) => None,
    };
    Ok(IdentityProviderView {
        issuer: link.issuer.clone(),
        client_id: link.client_id.clone(),
        signed_in_as: who.as_ref().map(|w| {
            w.email
                .clone()
                .or_else(|| w.subject.clone())
                .unwrap_or_else(|| "an unnamed user".into())
        }),
        expires_at: who.and_then(|w| w.expires_at),
        id_token_from,
        servers: servers_of(accounts, link),
    })
}

/// The identity providers in the settings, then those that accounts made
/// with `mcpauth login --idp` get their ID-JAGs from.
#[tauri::command]
pub fn identity_providers(state: State<'_, AppState>) -> Result<Vec<IdentityProviderView>> {
    let accounts = state.vault.list()?;
    let mut all: Vec<IdpLink> = state
        .settings()
        .identity_providers
        .iter()
        .map(link)
        .collect();
    for account in &accounts {
        if let Some(AssertionSource::IdJag(l)) = &account.assertion_source {
            if !all.contains(l) {
                all.push(l.clone());
            }
        }
    }
    all.iter().map(|l| view(&state, &accounts, l)).collect()
}

/// Signs in at the identity provider in the browser (OpenID Connect, PKCE,
/// a loopback redirect) and adds it to the settings. The URL goes to the
/// window in an `idp-sign-in-started` event, for when no browser opens. A
/// client secret is kept only once the sign-in with it has succeeded.
#[tauri::command]
pub async fn sign_in_to_identity_provider(
    app: AppHandle,
    state: State<'_, AppState>,
    options: IdentityProviderOptions,
) -> Result<IdentityProviderView> {
    let idp = checked(&options.issuer, &options.client_id)?;
    let link = link(&idp);
    let secret = options.client_secret.filter(|s| !s.is_blank());
    state
        .vault
        .sign_in_to_idp(&link, secret.as_ref().map(|s| s.secret()), |url| {
            let browser = match mcpauth_vault::browser::open(url) {
                Ok(program) => format!("opened with {program}"),
                Err(e) => format!("could not open a browser ({}); open the link yourself", e.0),
            };
            let _ = app.emit(
                "idp-sign-in-started",
                IdpSignInStarted {
                    issuer: idp.issuer.clone(),
                    authorization_url: url.to_string(),
                    browser,
                },
            );
        })
        .await?;
    state.update_settings(|s| {
        if !s.identity_providers.contains(&idp) {
            s.identity_providers.push(idp.clone());
        }
    })?;
    view(&state, &state.vault.list()?, &link)
}

/// Removes an identity provider no account gets its tokens through: its
/// sign-in from the keyring, then from the settings.
#[tauri::command]
pub fn forget_identity_provider(
    state: State<'_, AppState>,
    provider: IdentityProvider,
) -> Result<()> {
    let link = link(&provider);
    let servers = servers_of(&state.vault.list()?, &link);
    if !servers.is_empty() {
        return Err(AppError::new(
            "failure",
            format!(
                "{} get their tokens through {}: remove those accounts first",
                servers.join(", "),
                provider.issuer
            ),
        ));
    }
    state.vault.forget_idp(&link)?;
    state.update_settings(|s| s.identity_providers.retain(|i| i != &provider))?;
    Ok(())
}

/// The assertion source of a machine account made through `idp`, once
/// MCP Auth holds a sign-in there.
pub fn assertion_through(state: &AppState, idp: &IdentityProvider) -> Result<AssertionSource> {
    let link = link(idp);
    if state.vault.idp_signed_in(&link)?.is_none() {
        return Err(AppError::new(
            "needs_sign_in",
            format!(
                "MCP Auth holds no sign-in at {} for the client {}: sign in there in Settings, under Organisation sign-in, first",
                idp.issuer, idp.client_id
            ),
        ));
    }
    Ok(AssertionSource::IdJag(link))
}
