//! Enterprise-managed sign-in (MCP SEP-990): the user signs in once at their
//! organisation's identity provider (IdP), and each MCP server behind an
//! authorization server that trusts that IdP is then reached without a
//! browser: the IdP's ID token is exchanged there for an ID-JAG
//! ([`mcpauth_core::idjag`]), which the server's authorization server takes
//! with the JWT bearer grant.
//!
//! An account made this way is a machine-like account whose assertion source
//! is [`AssertionSource::IdJag`]: every token request asks the IdP for a new
//! ID-JAG, as a workload account reads its platform's newest token.
//!
//! The IdP grant (its ID token, refresh token and the IdP client's secret)
//! is one keyring item per IdP and client, `idp/<digest>`, shared by every
//! account that uses it: one sign-in at the IdP serves them all.

use std::path::PathBuf;

use base64::Engine as _;
use mcpauth_core::authorize::{start_authorization, AuthorizationRequest};
use mcpauth_core::callback::validate_callback;
use mcpauth_core::idjag::{exchange_for_id_jag, IdJagRequest};
use mcpauth_core::loopback::{LoopbackHost, LoopbackListener};
use mcpauth_core::metadata::AuthorizationServerMetadata;
use mcpauth_core::registration::{ClientAuth, ClientRegistration};
use mcpauth_core::scopes::Scopes;
use mcpauth_core::secret::{Assertion, ClientSecret, IdToken, RefreshToken};
use serde::{Deserialize, Serialize};

use crate::model::now_secs;
use crate::workload::AssertionSource;
use crate::{Error, Result, Vault};

/// The scopes of the sign-in at the IdP: an ID token, and a refresh token to
/// renew it without the browser.
pub const IDP_SCOPES: &str = "openid offline_access";

/// An ID token is renewed this long before its `exp`, so the exchange never
/// presents one about to run out.
const ID_TOKEN_MARGIN_SECS: i64 = 60;

/// An organisation's identity provider and MCP Auth's client there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpLink {
    /// The IdP's issuer identifier (OpenID Connect discovery).
    pub issuer: String,
    /// MCP Auth's client at the IdP.
    pub client_id: String,
    /// Where the ID token comes from.
    pub id_token: IdTokenSource,
}

/// Where the ID token exchanged for ID-JAGs comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdTokenSource {
    /// MCP Auth's own sign-in at the IdP (browser, PKCE): the ID token and
    /// its refresh token are in the keyring.
    SignIn,
    /// A file another tool (the organisation's SSO agent) keeps current.
    File(PathBuf),
    /// An environment variable of the process that asks for a token.
    Env(String),
}

impl std::fmt::Display for IdpLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the identity provider {}", self.issuer)
    }
}

impl IdpLink {
    /// True when the ID token is read from the asking process's environment,
    /// so only that process can get tokens for the account.
    pub fn reads_env(&self) -> bool {
        matches!(self.id_token, IdTokenSource::Env(_))
    }

    fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{}\n{}", self.issuer, self.client_id));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)[..22].to_string()
    }

    fn secret_key(&self) -> String {
        format!("idp/{}", self.digest())
    }

    /// The lock (as an account's) under which the grant is read, renewed
    /// and written: two processes renewing with one rotating refresh token
    /// would end the sign-in.
    fn lock_name(&self) -> String {
        format!("idp-{}", self.digest())
    }
}

/// The IdP grant in the keyring. `Debug` shows which parts are present, never them.
#[derive(Clone, Default, Serialize, Deserialize)]
struct IdpGrant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

impl std::fmt::Debug for IdpGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpGrant")
            .field("id_token", &self.id_token.is_some())
            .field("refresh_token", &self.refresh_token.is_some())
            .field("client_secret", &self.client_secret.is_some())
            .finish()
    }
}

impl Drop for IdpGrant {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.id_token.zeroize();
        self.refresh_token.zeroize();
        self.client_secret.zeroize();
    }
}

/// Who the IdP says signed in, from the ID token's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpIdentity {
    pub subject: Option<String>,
    pub email: Option<String>,
    /// The ID token's expiry, Unix seconds.
    pub expires_at: Option<i64>,
}

impl IdpIdentity {
    /// True while the ID token has more than the margin left to live.
    fn is_fresh(&self) -> bool {
        self.expires_at
            .is_some_and(|exp| exp - ID_TOKEN_MARGIN_SECS > now_secs())
    }
}

/// Who the ID token names, from its claims unverified: it came straight from
/// the IdP's token endpoint over TLS (OpenID Connect Core §3.1.3.7 lets a
/// client rely on that), or from a file the user pointed at.
fn identity(id_token: &str) -> IdpIdentity {
    let claims = mcpauth_core::jwt::unverified_claims(id_token).unwrap_or_default();
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    IdpIdentity {
        subject: text("sub"),
        email: text("email"),
        expires_at: claims.get("exp").and_then(serde_json::Value::as_i64),
    }
}

impl Vault {
    fn idp_grant(&self, link: &IdpLink) -> Result<IdpGrant> {
        Ok(self
            .read_secret_json(&link.secret_key(), "identity provider sign-in")?
            .unwrap_or_default())
    }

    fn idp_client(&self, link: &IdpLink, grant: &IdpGrant) -> ClientRegistration {
        let auth = match &grant.client_secret {
            Some(secret) => ClientAuth::SecretBasic(ClientSecret::new(secret.clone())),
            None => ClientAuth::None,
        };
        ClientRegistration::pre_registered(&link.issuer, &link.client_id, auth)
    }

    async fn idp_metadata(&self, link: &IdpLink) -> Result<AuthorizationServerMetadata> {
        let (_, metadata) =
            mcpauth_core::discovery::fetch_identity_provider_metadata(self.http()?, &link.issuer)
                .await?;
        Ok(metadata)
    }

    /// Keeps the IdP client's secret (`None`: a public client) for `link`,
    /// beside its grant.
    pub async fn keep_idp_client_secret(&self, link: &IdpLink, secret: Option<&str>) -> Result<()> {
        let _lock = self.lock_account(&link.lock_name()).await?;
        let mut grant = self.idp_grant(link)?;
        grant.client_secret = secret.map(str::to_string);
        self.write_secret_json(&link.secret_key(), &grant)
    }

    /// The identity of the IdP sign-in `link` holds, when it holds a usable
    /// one (an ID token that has not expired, or a refresh token to renew it).
    pub fn idp_signed_in(&self, link: &IdpLink) -> Result<Option<IdpIdentity>> {
        let grant = self.idp_grant(link)?;
        let Some(id_token) = &grant.id_token else {
            return Ok(None);
        };
        let who = identity(id_token);
        Ok((who.is_fresh() || grant.refresh_token.is_some()).then_some(who))
    }

    /// Signs in at the IdP in the browser (OpenID Connect, authorization code
    /// with PKCE, a loopback redirect), and keeps the ID token and refresh
    /// token. `open` is given the URL to show the user (it opens the browser
    /// or prints it). `secret`, for a confidential client, is used for this
    /// sign-in and kept with its grant only if it succeeds (else the kept one
    /// is used). Nothing is kept unless the IdP answered with an ID token.
    pub async fn sign_in_to_idp(
        &self,
        link: &IdpLink,
        secret: Option<&str>,
        open: impl FnOnce(&url::Url),
    ) -> Result<IdpIdentity> {
        let metadata = self.idp_metadata(link).await?;
        let mut grant = self.idp_grant(link)?;
        if let Some(secret) = secret {
            grant.client_secret = Some(secret.to_string());
        }
        let client = self.idp_client(link, &grant);
        let listener = LoopbackListener::bind(LoopbackHost::Ip, 0).await?;
        let scopes = Scopes::parse(IDP_SCOPES)
            .iter()
            .filter(|s| *s == "openid" || metadata.supports_scope(s))
            .collect::<Vec<_>>()
            .join(" ");
        let (url, pending) = start_authorization(
            &metadata,
            &client,
            &AuthorizationRequest {
                // An ID token about the user, for no resource.
                resource: String::new(),
                scopes: Some(Scopes::parse(&scopes)),
                redirect_uri: listener.redirect_uri().to_string(),
                prompt: None,
            },
        )?;
        mcpauth_core::authorize::check_browser_url(&url)?;
        open(&url);
        let state = pending.state.clone();
        let mut callback = listener.wait(&state, self.options.sign_in_timeout).await?;
        let result = async {
            let code = validate_callback(&pending, callback.take_params())?;
            let tokens =
                mcpauth_core::token::exchange_code(self.http()?, &metadata, &client, pending, code)
                    .await?;
            let Some(id_token) = tokens.id_token else {
                return Err(Error::Invalid(format!(
                    "{} signed you in but returned no ID token; the client {} may not be allowed the openid scope there: ask your administrator",
                    link.issuer, link.client_id
                )));
            };
            let _lock = self.lock_account(&link.lock_name()).await?;
            // The secret this sign-in used, else the kept one as it is now
            // (it may have been kept while the browser was open).
            grant.client_secret = match secret {
                Some(secret) => Some(secret.to_string()),
                None => self.idp_grant(link)?.client_secret.clone(),
            };
            grant.id_token = Some(id_token.secret().to_string());
            grant.refresh_token = tokens.refresh_token.map(|r| r.secret().to_string());
            self.write_secret_json(&link.secret_key(), &grant)?;
            self.resume_idp_accounts(link)?;
            Ok(identity(id_token.secret()))
        }
        .await;
        callback
            .answer(result.as_ref().map(|_| ()).map_err(|e| e.to_string()))
            .await;
        result
    }

    /// The accounts that waited for a sign-in at `link`'s IdP get their next
    /// token with a fresh ID-JAG, on their next use (after a new sign-in
    /// there, or when the user asks to try again).
    pub fn resume_idp_accounts(&self, link: &IdpLink) -> Result<()> {
        for account in self.list()? {
            let uses_link = matches!(&account.assertion_source,
                Some(AssertionSource::IdJag(l)) if l.issuer == link.issuer && l.client_id == link.client_id);
            if uses_link && matches!(account.status, crate::AccountStatus::NeedsSignIn { .. }) {
                self.db().set_status(
                    &account.id,
                    &crate::AccountStatus::Error {
                        message: format!(
                            "signed in again at {link}; a new token comes with the next use"
                        ),
                        retry_at: Some(now_secs()),
                    },
                    None,
                )?;
            }
        }
        Ok(())
    }

    /// Forgets the IdP sign-in of `link` (the accounts that use it then need
    /// a new one).
    pub fn forget_idp(&self, link: &IdpLink) -> Result<()> {
        self.secrets.delete(&link.secret_key())
    }

    /// A current ID token: read from its file or variable, or the kept one,
    /// renewed with the refresh token when it is about to expire.
    async fn current_id_token(
        &self,
        link: &IdpLink,
        metadata: &AuthorizationServerMetadata,
        client: &ClientRegistration,
        grant: &mut IdpGrant,
    ) -> Result<IdToken> {
        let given = match &link.id_token {
            IdTokenSource::File(path) => Some(AssertionSource::File(path.clone())),
            IdTokenSource::Env(name) => Some(AssertionSource::Env(name.clone())),
            IdTokenSource::SignIn => None,
        };
        if let Some(source) = given {
            let token = source.read_jwt("ID token")?;
            return Ok(IdToken::new(token.secret().to_string()));
        }
        let needs_sign_in = |reason: String| Error::NeedsIdpSignIn {
            issuer: link.issuer.clone(),
            reason,
        };
        let fresh = grant.id_token.as_ref().filter(|t| identity(t).is_fresh());
        if let Some(token) = fresh {
            return Ok(IdToken::new(token.clone()));
        }
        let Some(refresh_token) = grant.refresh_token.clone() else {
            return Err(needs_sign_in(match grant.id_token {
                Some(_) => "its ID token expired and it gave no refresh token to renew it".into(),
                None => "MCP Auth has not signed in there yet".into(),
            }));
        };
        // The ID token is renewed by a refresh that asks for openid again
        // (OpenID Connect Core §12.2). No resource: it is about the user.
        let renewed = mcpauth_core::token::refresh(
            self.http()?,
            metadata,
            client,
            &RefreshToken::new(refresh_token),
            "",
            Some(&Scopes::parse("openid")),
        )
        .await;
        let tokens = match renewed {
            Ok(tokens) => tokens,
            Err(e) if matches!(e.oauth_error(), Some("invalid_grant" | "invalid_client")) => {
                grant.id_token = None;
                grant.refresh_token = None;
                self.write_secret_json(&link.secret_key(), &*grant)?;
                return Err(needs_sign_in(format!("it ended the sign-in ({e})")));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(id_token) = tokens.id_token else {
            return Err(needs_sign_in(
                "its refresh gave no new ID token, so none can be exchanged".into(),
            ));
        };
        grant.id_token = Some(id_token.secret().to_string());
        if let Some(rotated) = tokens.refresh_token {
            grant.refresh_token = Some(rotated.secret().to_string());
        }
        self.write_secret_json(&link.secret_key(), &*grant)?;
        Ok(id_token)
    }

    /// An ID-JAG for the authorization server `audience` and `resource`,
    /// fresh from the IdP.
    pub(crate) async fn id_jag(
        &self,
        link: &IdpLink,
        audience: &str,
        resource: &str,
        scope: Option<&Scopes>,
    ) -> Result<Assertion> {
        let metadata = self.idp_metadata(link).await?;
        let _lock = self.lock_account(&link.lock_name()).await?;
        let mut grant = self.idp_grant(link)?;
        let client = self.idp_client(link, &grant);
        let request = IdJagRequest {
            audience,
            resource,
            scope,
        };
        let mut renewed = false;
        loop {
            let id_token = self
                .current_id_token(link, &metadata, &client, &mut grant)
                .await?;
            match exchange_for_id_jag(
                self.http()?,
                &metadata,
                &client,
                &id_token,
                request,
                now_secs(),
            )
            .await
            {
                Ok(assertion) => return Ok(assertion),
                // The IdP no longer takes the ID token it issued (its session
                // ended early): one renewal with the refresh token, then only
                // a new sign-in helps.
                Err(e)
                    if link.id_token == IdTokenSource::SignIn
                        && e.oauth_error() == Some("invalid_grant") =>
                {
                    grant.id_token = None;
                    if renewed || grant.refresh_token.is_none() {
                        grant.refresh_token = None;
                    }
                    self.write_secret_json(&link.secret_key(), &grant)?;
                    if grant.refresh_token.is_none() {
                        return Err(Error::NeedsIdpSignIn {
                            issuer: link.issuer.clone(),
                            reason: format!("it refused the ID token it issued ({e})"),
                        });
                    }
                    renewed = true;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The assertion for an account's JWT bearer grant: the workload's token
    /// as its platform wrote it, or a fresh ID-JAG from the IdP.
    pub(crate) async fn assertion_for(
        &self,
        source: &AssertionSource,
        issuer: &str,
        resource: &str,
        scope: Option<&Scopes>,
    ) -> Result<Assertion> {
        match source {
            AssertionSource::IdJag(link) => self.id_jag(link, issuer, resource, scope).await,
            other => Ok(other.read()?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grant_never_shows_its_secrets() {
        let grant = IdpGrant {
            id_token: Some("eyJ-id-token-value".into()),
            refresh_token: Some("refresh-value".into()),
            client_secret: None,
        };
        let shown = format!("{grant:?}");
        assert!(
            !shown.contains("eyJ") && !shown.contains("refresh-value"),
            "{shown}"
        );
        assert!(
            shown.contains("id_token: true") && shown.contains("client_secret: false"),
            "{shown}"
        );
    }

    #[test]
    fn one_keyring_item_per_idp_and_client() {
        let link = |issuer: &str, client: &str| IdpLink {
            issuer: issuer.into(),
            client_id: client.into(),
            id_token: IdTokenSource::SignIn,
        };
        let a = link("https://idp.example", "mcpauth").secret_key();
        assert_eq!(a, link("https://idp.example", "mcpauth").secret_key());
        assert_ne!(a, link("https://idp.example", "other").secret_key());
        assert_ne!(a, link("https://idp2.example", "mcpauth").secret_key());
        assert!(a.starts_with("idp/") && a.len() == 26, "{a}");
    }

    #[test]
    fn the_identity_comes_from_the_id_token_claims() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"ES256"}"#),
            b64(r#"{"sub":"u1","email":"a@example.com","exp":77}"#)
        );
        let who = identity(&token);
        assert_eq!(who.subject.as_deref(), Some("u1"));
        assert_eq!(who.email.as_deref(), Some("a@example.com"));
        assert_eq!(who.expires_at, Some(77));
        assert_eq!(identity("not a jwt").subject, None);
    }
}
