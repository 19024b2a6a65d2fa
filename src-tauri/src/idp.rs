//! Organisation sign-in (MCP SEP-990) in the app: the identity providers the
//! user signs in at from Settings, kept in the settings file (issuer and
//! client only; the grant is in the keyring), and the accounts that get their
//! tokens through them.

use mcpauth_vault::{AssertionSource, IdTokenSource, IdpLink};
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

fn same(link: &IdpLink, idp: &IdentityProvider) -> bool {
    link.issuer == idp.issuer && link.client_id == idp.client_id
}

/// The identity provider's issuer and client as the user typed them, checked.
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
        issuer: issuer.trim_end_matches('/').to_string(),
        client_id: client_id.to_string(),
    })
}

/// The servers whose accounts get their tokens through `idp`.
fn servers_of(state: &AppState, idp: &IdentityProvider) -> Result<Vec<String>> {
    Ok(state
        .vault
        .list()?
        .into_iter()
        .filter(|a| matches!(&a.assertion_source, Some(AssertionSource::IdJag(l)) if same(l, idp)))
        .map(|a| a.server_url)
        .collect())
}

fn view(state: &AppState, idp: &IdentityProvider) -> Result<IdentityProviderView> {
    let who = state.vault.idp_signed_in(&link(idp))?;
    Ok(IdentityProviderView {
        issuer: idp.issuer.clone(),
        client_id: idp.client_id.clone(),
        signed_in_as: who.as_ref().map(|w| {
            w.email
                .clone()
                .or_else(|| w.subject.clone())
                .unwrap_or_else(|| "an unnamed user".into())
        }),
        expires_at: who.and_then(|w| w.expires_at),
        servers: servers_of(state, idp)?,
    })
}

/// The identity providers in the settings, then those that accounts made
/// with `mcpauth login --idp` sign in through.
#[tauri::command]
pub fn identity_providers(state: State<'_, AppState>) -> Result<Vec<IdentityProviderView>> {
    let mut all = state.settings().identity_providers;
    for account in state.vault.list()? {
        if let Some(AssertionSource::IdJag(l)) = &account.assertion_source {
            if l.id_token == IdTokenSource::SignIn && !all.iter().any(|i| same(l, i)) {
                all.push(IdentityProvider {
                    issuer: l.issuer.clone(),
                    client_id: l.client_id.clone(),
                });
            }
        }
    }
    all.iter().map(|idp| view(&state, idp)).collect()
}

/// Signs in at the identity provider in the browser (OpenID Connect, PKCE,
/// a loopback redirect) and adds it to the settings. The URL goes to the
/// window in an `idp-sign-in-started` event, for when no browser opens.
#[tauri::command]
pub async fn sign_in_to_identity_provider(
    app: AppHandle,
    state: State<'_, AppState>,
    options: IdentityProviderOptions,
) -> Result<IdentityProviderView> {
    let idp = checked(&options.issuer, &options.client_id)?;
    let link = link(&idp);
    let secret = options.client_secret.filter(|s| !s.is_blank());
    if let Some(secret) = &secret {
        state
            .vault
            .keep_idp_client_secret(&link, Some(secret.secret()))
            .await?;
    }
    state
        .vault
        .sign_in_to_idp(&link, |url| {
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
    let mut settings = state.settings();
    if !settings.identity_providers.contains(&idp) {
        settings.identity_providers.push(idp.clone());
        state.store_settings(settings)?;
    }
    view(&state, &idp)
}

/// Removes an identity provider no account gets its tokens through: from the
/// settings, and its sign-in from the keyring.
#[tauri::command]
pub fn forget_identity_provider(
    state: State<'_, AppState>,
    provider: IdentityProvider,
) -> Result<()> {
    let servers = servers_of(&state, &provider)?;
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
    let mut settings = state.settings();
    settings.identity_providers.retain(|i| i != &provider);
    state.store_settings(settings)?;
    state.vault.forget_idp(&link(&provider))?;
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
