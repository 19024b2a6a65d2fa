//! The refresh broker and the other token-changing operations.
//!
//! Write order, for crash safety: tokens go to the keyring first (one item,
//! so access and refresh token change together), then the record. A process
//! killed between the two leaves a record one generation behind its bundle;
//! the next reader repairs the record from the bundle. A refresh runs under a
//! per-account OS file lock and re-reads the bundle after taking it, so a
//! rotating refresh token is never spent twice on one machine.

use std::fs::File;
use std::time::Duration;

use mcpauth_core::discovery::Discovery;
use mcpauth_core::registration::{ClientRegistration, RegistrationKind};
use mcpauth_core::scopes::Scopes;
use mcpauth_core::secret::{AccessToken, RefreshToken};
use mcpauth_core::token::{self, RefreshUpgrade, TokenResponse};
use rand::Rng;

use crate::error::{Error, Result};
use crate::model::{
    now_secs, Account, AccountKind, AccountStatus, Activity, ClientCredential, TokenBundle,
};
use crate::{new_account_id, Vault};

/// When [`Vault::fresh_token`] may return the stored token instead of refreshing.
#[derive(Clone, Copy)]
enum Freshness<'a> {
    /// While it is fresh.
    IfDue,
    /// Never: refresh now.
    Now,
    /// While it is fresh and is not this token, which the server refused.
    Replacing(&'a str),
}

/// What sign-out did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOutReport {
    pub account: String,
    /// False when the server has no revocation endpoint.
    pub revocation_supported: bool,
    /// `None` when there was no such token; `Some(Ok)` revoked; `Some(Err(why))` not revoked.
    pub refresh_token: Option<std::result::Result<(), String>>,
    pub access_token: Option<std::result::Result<(), String>>,
    /// The accounts that shared this account's sign-in, which now need one
    /// of their own.
    pub shared_ended: Vec<String>,
}

/// "revoked", "none held" or "not revoked: <why>", for one token of a sign-out.
pub fn describe_revocation(outcome: &Option<std::result::Result<(), String>>) -> String {
    match outcome {
        None => "none held".to_string(),
        Some(Ok(())) => "revoked".to_string(),
        Some(Err(e)) => format!("not revoked: {e}"),
    }
}

impl SignOutReport {
    /// True when every token that existed was revoked.
    pub fn fully_revoked(&self) -> bool {
        self.revocation_supported
            && [&self.refresh_token, &self.access_token]
                .iter()
                .all(|r| r.as_ref().is_none_or(|r| r.is_ok()))
    }
}

/// The result of asking for more scopes.
#[derive(Debug)]
pub enum UpgradeOutcome {
    /// Refresh granted them; the account is updated.
    Granted(Box<Account>),
    /// A browser sign-in is needed for the union of scopes; `reason` says why.
    NeedsReauthorization { scopes: Scopes, reason: String },
}

/// An activity entry carrying the HTTP exchanges this task made since the last entry.
pub(crate) fn activity(kind: &str, summary: impl Into<String>) -> Activity {
    activity_with(kind, summary, crate::exchanges::take())
}

fn activity_with(
    kind: &str,
    summary: impl Into<String>,
    exchanges: Vec<crate::exchanges::Exchange>,
) -> Activity {
    Activity {
        at: now_secs(),
        kind: kind.into(),
        summary: summary.into(),
        error: None,
        error_description: None,
        exchanges,
    }
}

pub(crate) fn error_activity(
    kind: &str,
    summary: impl Into<String>,
    e: &mcpauth_core::Error,
) -> Activity {
    let (error, description) = match e {
        mcpauth_core::Error::TokenRefused { response, .. }
        | mcpauth_core::Error::RegistrationRefused { response, .. }
        | mcpauth_core::Error::AuthorizationDenied { response } => (
            Some(response.error.clone()),
            response.error_description.clone(),
        ),
        other => (None, Some(other.to_string())),
    };
    Activity {
        at: now_secs(),
        kind: kind.into(),
        summary: summary.into(),
        error,
        error_description: description,
        exchanges: crate::exchanges::take(),
    }
}

/// Who a token belongs to, for display: the ID token's or a JWT access token's
/// `email`, `preferred_username` or `sub`. Not a security decision.
fn subject_of(tokens: &TokenResponse) -> Option<String> {
    let claims = mcpauth_core::jwt::unverified_claims;
    let from = |v: serde_json::Value| -> Option<String> {
        ["email", "preferred_username", "sub"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|s| s.as_str()).map(str::to_string))
    };
    tokens
        .id_token
        .as_ref()
        .and_then(|t| claims(t.secret()))
        .and_then(from)
        .or_else(|| claims(tokens.access_token.secret()).and_then(from))
}

fn bundle_from(
    tokens: &TokenResponse,
    previous: Option<&TokenBundle>,
    generation: i64,
) -> TokenBundle {
    let now = now_secs();
    TokenBundle {
        access_token: tokens.access_token.secret().to_string(),
        // Without a new refresh token the old one stays valid (RFC 6749 §6).
        refresh_token: tokens
            .refresh_token
            .as_ref()
            .map(|t| t.secret().to_string())
            .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
        id_token: tokens
            .id_token
            .as_ref()
            .map(|t| t.secret().to_string())
            .or_else(|| previous.and_then(|p| p.id_token.clone())),
        token_type: tokens.token_type.clone(),
        expires_at: tokens.expires_in.map(|s| now + s as i64),
        issued_at: Some(now),
        expiry_assumed: tokens.expiry_source == mcpauth_core::token::ExpirySource::Assumed,
        scopes: tokens
            .scopes
            .as_ref()
            .map(|s| s.to_string())
            .or_else(|| previous.map(|p| p.scopes.clone()))
            .unwrap_or_default(),
        generation,
    }
}

/// The record's token facts mirror the bundle.
pub(crate) fn mirror(account: &mut Account, bundle: &TokenBundle) {
    account.granted_scopes = bundle.scopes.clone();
    account.token_type = bundle.token_type.clone();
    account.expires_at = bundle.expires_at;
    account.issued_at = bundle.issued_at;
    account.has_refresh_token = bundle.refresh_token.is_some();
    account.generation = bundle.generation;
}

/// A re-authorization that went to another authorization server than the account's.
pub(crate) struct Moved<'a> {
    pub discovery: &'a Discovery,
    pub client: &'a ClientRegistration,
    pub credential: Option<&'a ClientCredential>,
    pub signing_alg: Option<String>,
}

/// What a new account is made from.
pub(crate) struct NewAccount<'a> {
    pub discovery: &'a Discovery,
    pub client: &'a ClientRegistration,
    pub credential: Option<&'a ClientCredential>,
    pub signing_alg: Option<String>,
    pub kind: AccountKind,
    pub name: Option<String>,
    pub requested: Option<Scopes>,
    pub tokens: &'a TokenResponse,
    /// Discovery and registration's exchanges (made when the sign-in began).
    pub discovery_exchanges: Vec<crate::exchanges::Exchange>,
    /// A workload identity account's assertion source.
    pub assertion_source: Option<&'a crate::workload::AssertionSource>,
    /// The account whose sign-in it shares (crate::shared_grant).
    pub grant_holder: Option<&'a Account>,
}

impl Vault {
    /// Stores a new account: secrets first, then the record. If the record cannot
    /// be written, the secrets are removed again.
    pub(crate) fn store_new_account(&self, new: NewAccount<'_>) -> Result<Account> {
        let id = new_account_id();
        let bundle = bundle_from(new.tokens, None, 1);
        if let Some(credential) = new.credential {
            self.write_credential(&id, credential)?;
        }
        if let Err(e) = self.write_bundle(&id, &bundle) {
            let _ = self.secrets.delete(&Self::client_key(&id));
            return Err(e);
        }
        let now = now_secs();
        let mut account = Account {
            id: id.clone(),
            name: new
                .name
                .clone()
                .unwrap_or_else(|| new.discovery.mcp_url.clone()),
            kind: new.kind,
            server_url: new.discovery.mcp_url.clone(),
            resource: new.discovery.resource.clone(),
            issuer: new.discovery.issuer.clone(),
            client_id: new.client.client_id.clone(),
            registration: new.client.kind,
            client_auth: new.client.auth.method_name().to_string(),
            signing_alg: new.signing_alg.clone(),
            redirect_uri: new.client.redirect_uris.first().cloned(),
            subject: subject_of(new.tokens),
            requested_scopes: new
                .requested
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            granted_scopes: String::new(),
            offered_scopes: new.discovery.offered_scopes().join(" "),
            token_type: String::new(),
            expires_at: None,
            issued_at: None,
            has_refresh_token: false,
            status: AccountStatus::Active {
                expires_at: bundle.expires_at,
            },
            last_refresh_at: None,
            is_default: false,
            created_at: now,
            updated_at: now,
            generation: 0,
            assertion_source: new.assertion_source.cloned(),
            dpop_jkt: None,
            grant_holder: new.grant_holder.map(|h| h.id.clone()),
        };
        if let Err(e) = self.keep_dpop_key(&mut account, new.client.dpop.as_ref()) {
            self.forget_bundle(&id);
            let _ = self.secrets.delete(&Self::tokens_key(&id));
            let _ = self.secrets.delete(&Self::client_key(&id));
            return Err(e);
        }
        mirror(&mut account, &bundle);
        let discovery_json =
            serde_json::to_string(new.discovery).map_err(|e| Error::Invalid(e.to_string()))?;
        let summary = match new.kind {
            AccountKind::User if new.grant_holder.is_some() => format!(
                "signed in with the sign-in of {} at {}, no browser: its refresh token was accepted for this server ({})",
                new.grant_holder.map(|h| h.name.as_str()).unwrap_or_default(),
                account.issuer,
                account.granted_scopes
            ),
            AccountKind::User => format!(
                "signed in at {} ({})",
                account.issuer, account.granted_scopes
            ),
            AccountKind::Machine => match &account.assertion_source {
                Some(crate::workload::AssertionSource::IdJag(link)) => format!(
                    "enterprise-managed sign-in: an ID-JAG from {link} accepted by {} ({})",
                    account.issuer, account.granted_scopes
                ),
                Some(source) => format!(
                    "workload identity: the assertion from {source} accepted by {} ({})",
                    account.issuer, account.granted_scopes
                ),
                None => format!(
                    "client credentials from {} ({})",
                    account.issuer, account.granted_scopes
                ),
            },
        };
        let found = activity_with(
            "discovery",
            format!(
                "resource {} (metadata {}), authorization server {} (metadata {}), client {} ({:?})",
                new.discovery.resource,
                new.discovery
                    .resource_metadata_url
                    .as_deref()
                    .unwrap_or("none: 2025-03-26 server"),
                new.discovery.issuer,
                new.discovery
                    .metadata_url
                    .as_deref()
                    .unwrap_or("none: default endpoints"),
                new.client.client_id,
                new.client.kind,
            ),
            new.discovery_exchanges,
        );
        let steps = [found, activity("sign_in", summary)];
        if let Err(e) = self.db().insert(&account, &discovery_json, &steps) {
            self.forget_bundle(&id);
            let _ = self.secrets.delete(&Self::tokens_key(&id));
            let _ = self.secrets.delete(&Self::client_key(&id));
            if account.dpop_jkt.is_some() {
                let _ = self.keep_dpop_key(&mut account, None);
            }
            return Err(e);
        }
        self.account(&id)
    }

    /// Replaces an account's tokens (refresh, re-authorization): bundle, then record.
    pub(crate) fn replace_tokens(
        &self,
        account: &Account,
        tokens: &TokenResponse,
        previous: Option<&TokenBundle>,
        requested: Option<&Scopes>,
        step: Activity,
    ) -> Result<Account> {
        let generation = account.generation.max(previous.map_or(0, |p| p.generation)) + 1;
        let bundle = bundle_from(tokens, previous, generation);
        self.write_bundle(&account.id, &bundle)?;
        let mut updated = account.clone();
        mirror(&mut updated, &bundle);
        updated.status = AccountStatus::Active {
            expires_at: bundle.expires_at,
        };
        updated.last_refresh_at = Some(now_secs());
        if let Some(subject) = subject_of(tokens) {
            updated.subject = Some(subject);
        }
        if let Some(requested) = requested {
            updated.requested_scopes = requested.to_string();
        }
        self.db().update_tokens(&updated, Some(&step))?;
        Ok(updated)
    }

    /// Brings the record in line with a newer bundle (after a crash between the two writes).
    fn repair_record(&self, account: &Account, bundle: &TokenBundle, log: bool) -> Result<Account> {
        let mut updated = account.clone();
        mirror(&mut updated, bundle);
        if !matches!(updated.status, AccountStatus::NeedsSignIn { .. }) {
            updated.status = AccountStatus::Active {
                expires_at: bundle.expires_at,
            };
        }
        self.db().update_tokens(
            &updated,
            log.then(|| activity("repair", "the record was brought in line with the keyring"))
                .as_ref(),
        )?;
        Ok(updated)
    }

    /// An access token valid for at least the skew, refreshing when needed.
    pub async fn token(&self, selector: &str) -> Result<AccessToken> {
        crate::exchanges::capture(async {
            let account = self.account(selector)?;
            self.fresh_token(&account.id, Freshness::IfDue).await
        })
        .await
    }

    /// After the resource server refused `rejected` (a 401): a token that is not
    /// it. Another process may already have replaced it, and then its token is
    /// used; otherwise this refreshes. So several proxies refused at once on one
    /// account make one refresh between them, not one each.
    pub async fn token_after_rejection(
        &self,
        selector: &str,
        rejected: &AccessToken,
    ) -> Result<AccessToken> {
        crate::exchanges::capture(async {
            let account = self.account(selector)?;
            self.fresh_token(&account.id, Freshness::Replacing(rejected.secret()))
                .await
        })
        .await
    }

    /// Refreshes now, whatever the expiry.
    pub async fn refresh_now(&self, selector: &str) -> Result<Account> {
        crate::exchanges::capture(async {
            let account = self.account(selector)?;
            self.fresh_token(&account.id, Freshness::Now).await?;
            self.account(&account.id)
        })
        .await
    }

    fn check_usable(&self, account: &Account) -> Result<()> {
        match &account.status {
            // A workload's platform renews its assertion: a new one is tried
            // (once: if refused, its fingerprint is kept too); the refused one
            // is never sent again.
            AccountStatus::NeedsSignIn { .. }
                if account.assertion_source.as_ref().is_some_and(|source| {
                    source.read().is_ok_and(|a| {
                        self.db()
                            .assertion_refused(&account.id)
                            .is_ok_and(|refused| refused.as_deref() != Some(&a.fingerprint()))
                    })
                }) =>
            {
                Ok(())
            }
            AccountStatus::NeedsSignIn { reason } => Err(Error::NeedsSignIn {
                account: account.id.clone(),
                reason: reason.clone(),
            }),
            AccountStatus::SignedOut => Err(Error::NeedsSignIn {
                account: account.id.clone(),
                reason: "signed out".into(),
            }),
            _ => Ok(()),
        }
    }

    async fn fresh_token(&self, id: &str, freshness: Freshness<'_>) -> Result<AccessToken> {
        let min_skew = self.min_skew_secs();
        let account = self.account(id)?;
        self.check_usable(&account)?;
        // Usable although it needs a sign-in: a workload whose platform renewed
        // the refused assertion. The new one is tried now, whatever the
        // token at hand (check_usable).
        let renewed = |account: &Account| {
            matches!(account.status, AccountStatus::NeedsSignIn { .. })
                && account.assertion_source.is_some()
        };
        let force = !matches!(freshness, Freshness::IfDue) || renewed(&account);
        if !force {
            // The bundle this process already holds, while the record says it is
            // the current one: no keyring round trip.
            if let Some(bundle) = self.cached_bundle(id, account.generation) {
                if bundle.is_fresh(now_secs(), min_skew)
                    && matches!(account.status, AccountStatus::Active { .. })
                {
                    return Ok(AccessToken::new(bundle.access_token.clone()));
                }
            }
            // The record mirrors the bundle's expiry: when it says the token is
            // due, go straight to the refresh (which reads the bundle under the
            // lock) instead of reading the keyring twice.
            let due_by_record = account
                .next_refresh_at(min_skew)
                .is_some_and(|at| at <= now_secs());
            let bundle = if due_by_record {
                None
            } else {
                self.read_bundle(id)?
            };
            if let Some(bundle) = bundle {
                if bundle.is_fresh(now_secs(), min_skew) {
                    if bundle.generation > account.generation {
                        self.repair_record(&account, &bundle, true)?;
                    } else if account.status == AccountStatus::Refreshing {
                        self.clear_stale_refreshing(&account, &bundle)?;
                    }
                    return Ok(AccessToken::new(bundle.access_token.clone()));
                }
            }
        }
        let _lock = self.lock_account(id).await?;
        // Another process may have refreshed while we waited for the lock.
        let account = self.account(id)?;
        self.check_usable(&account)?;
        let bundle = self.read_bundle(id)?;
        let retry_workload = renewed(&account);
        let usable = |b: &&TokenBundle| match freshness {
            _ if retry_workload => false,
            Freshness::IfDue => b.is_fresh(now_secs(), min_skew),
            Freshness::Now => false,
            Freshness::Replacing(rejected) => {
                b.access_token != rejected && b.is_fresh(now_secs(), min_skew)
            }
        };
        if let Some(bundle) = bundle.as_ref().filter(usable) {
            if bundle.generation > account.generation {
                self.repair_record(&account, bundle, true)?;
            }
            return Ok(AccessToken::new(bundle.access_token.clone()));
        }
        if let Some(bundle) = bundle.as_ref().filter(|b| {
            b.expiry_assumed
                && b.refresh_token.is_none()
                && account.grant_holder.is_none()
                && account.kind == AccountKind::User
                && matches!(freshness, Freshness::IfDue)
        }) {
            // Past a lifetime we only assumed, with nothing to renew it by: the
            // token may well still work, and the server's 401 is the verdict.
            return Ok(AccessToken::new(bundle.access_token.clone()));
        }
        if bundle.is_none() && account.kind == AccountKind::User {
            // Not the server's doing: the item was deleted from the keyring
            // (in Seahorse, say), or this is another keyring. Nothing can renew
            // the grant without its refresh token: the account says so.
            let reason = "the keyring no longer holds this account's tokens (deleted in a keyring \
                          manager, or this is another keyring); sign in again"
                .to_string();
            self.db().set_status(
                &account.id,
                &AccountStatus::NeedsSignIn {
                    reason: reason.clone(),
                },
                Some(&activity("error", reason)),
            )?;
            return Err(Error::SecretMissing {
                account: account.id.clone(),
                what: "tokens",
            });
        }
        let updated = match self.refresh_locked(&account, bundle.as_ref()).await {
            Ok(updated) => updated,
            // A refresh ahead of expiry that failed for a passing reason (the
            // authorization server down, say) costs the caller nothing while
            // the token it has is still valid: the refresh is tried again on a
            // later call and by the scheduler.
            Err(e) if matches!(freshness, Freshness::IfDue) && is_passing(&e) => {
                match bundle.filter(|b| {
                    b.expires_at
                        .is_some_and(|exp| now_secs() + STILL_VALID_SECS < exp)
                }) {
                    Some(bundle) => {
                        tracing::warn!(account = %account.id, error = %e, "refresh failed; the access token is still valid, so it serves meanwhile");
                        return Ok(AccessToken::new(bundle.access_token.clone()));
                    }
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        // Just written by this process (and so in memory); the keyring otherwise.
        let bundle = match self.cached_bundle(&updated.id, updated.generation) {
            Some(bundle) => bundle,
            None => self.read_bundle(&updated.id)?.ok_or(Error::SecretMissing {
                account: updated.id.clone(),
                what: "tokens",
            })?,
        };
        Ok(AccessToken::new(bundle.access_token.clone()))
    }

    /// A record left at "refreshing" by a process that died mid-refresh: if nobody
    /// holds the account's lock now, nobody is refreshing, so show it as active.
    fn clear_stale_refreshing(&self, account: &Account, bundle: &TokenBundle) -> Result<()> {
        let path = self.home.join("locks").join(format!("{}.lock", account.id));
        let Ok(file) = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        else {
            return Ok(());
        };
        if file.try_lock().is_ok() {
            self.db().set_status(
                &account.id,
                &AccountStatus::Active {
                    expires_at: bundle.expires_at,
                },
                None,
            )?;
        }
        Ok(())
    }

    /// Takes the per-account lock file (blocking, off the async threads).
    pub(crate) async fn lock_account(&self, id: &str) -> Result<File> {
        let path = self.home.join("locks").join(format!("{id}.lock"));
        tokio::task::spawn_blocking(move || {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| Error::io("cannot open the lock file", &path, e))?;
            file.lock()
                .map_err(|e| Error::io("cannot lock", &path, e))?;
            Ok(file)
        })
        .await
        .map_err(|e| Error::Invalid(format!("the lock task failed: {e}")))?
    }

    /// Runs the refresh (or client credentials) with back-off, under the lock.
    async fn refresh_locked(
        &self,
        account: &Account,
        bundle: Option<&TokenBundle>,
    ) -> Result<Account> {
        if let (AccountKind::User, Some(holder)) = (&account.kind, &account.grant_holder) {
            return self
                .refresh_with_shared_grant(account, holder, bundle)
                .await;
        }
        let discovery = self.discovery(&account.id)?;
        let client = self.client_of(account)?;
        let refresh_token = bundle.and_then(|b| b.refresh_token.clone());
        if account.kind == AccountKind::User && refresh_token.is_none() {
            let reason = "the authorization server gave no refresh token, so the expired access token cannot be renewed".to_string();
            self.db().set_status(
                &account.id,
                &AccountStatus::NeedsSignIn {
                    reason: reason.clone(),
                },
                Some(&activity("error", reason.clone())),
            )?;
            return Err(Error::NeedsSignIn {
                account: account.id.clone(),
                reason,
            });
        }
        self.db()
            .set_status(&account.id, &AccountStatus::Refreshing, None)?;
        let scopes = (!account.requested_scopes.is_empty())
            .then(|| Scopes::parse(&account.requested_scopes));
        let mut attempt = 0;
        // The fingerprint of the workload assertion last sent.
        let mut sent_assertion: Option<String> = None;
        loop {
            attempt += 1;
            let result = match (&account.kind, &refresh_token, &account.assertion_source) {
                // Read afresh at every attempt: the platform renews it. A
                // source that cannot be read fails here, before any request.
                (AccountKind::Machine, _, Some(source)) => match self
                    .assertion_for(source, &account.issuer, &account.resource, scopes.as_ref())
                    .await
                {
                    Ok(assertion) => {
                        sent_assertion = Some(assertion.fingerprint());
                        token::jwt_bearer(
                            self.http()?,
                            &discovery.metadata,
                            &client,
                            &assertion,
                            &account.resource,
                            scopes.as_ref(),
                        )
                        .await
                    }
                    Err(Error::Protocol(e)) => Err(e),
                    // No assertion to send (the IdP sign-in is over, the
                    // keyring failed): nothing was sent; the account says why.
                    Err(e) => {
                        let status = match &e {
                            Error::NeedsIdpSignIn { .. } => AccountStatus::NeedsSignIn {
                                reason: e.to_string(),
                            },
                            _ => AccountStatus::Error {
                                message: e.to_string(),
                                retry_at: None,
                            },
                        };
                        self.db().set_status(
                            &account.id,
                            &status,
                            Some(&activity("error", e.to_string())),
                        )?;
                        return Err(match e {
                            Error::NeedsIdpSignIn { .. } => Error::NeedsSignIn {
                                account: account.id.clone(),
                                reason: e.to_string(),
                            },
                            other => other,
                        });
                    }
                },
                (AccountKind::Machine, _, None) => {
                    token::client_credentials(
                        self.http()?,
                        &discovery.metadata,
                        &client,
                        &account.resource,
                        scopes.as_ref(),
                    )
                    .await
                }
                (AccountKind::User, Some(rt), _) => {
                    token::refresh(
                        self.http()?,
                        &discovery.metadata,
                        &client,
                        &RefreshToken::new(rt.clone()),
                        &account.resource,
                        None,
                    )
                    .await
                }
                (AccountKind::User, None, _) => unreachable!("checked above"),
            };
            match result {
                Ok(tokens) => {
                    let id_jag = matches!(
                        account.assertion_source,
                        Some(crate::workload::AssertionSource::IdJag(_))
                    );
                    let what = match (&account.kind, &sent_assertion) {
                        (AccountKind::Machine, Some(_)) if id_jag => {
                            "new token for a fresh ID-JAG from the identity provider"
                        }
                        (AccountKind::Machine, Some(_)) => "new token for the workload assertion",
                        (AccountKind::Machine, None) => "new client credentials token",
                        (AccountKind::User, _) => "refreshed",
                    };
                    if sent_assertion.is_some() {
                        self.db().set_assertion_refused(&account.id, None)?;
                    }
                    return self.replace_tokens(
                        account,
                        &tokens,
                        bundle,
                        None,
                        activity("refresh", what),
                    );
                }
                Err(e)
                    if matches!(
                        e.oauth_error(),
                        Some("invalid_grant" | "invalid_client" | "unauthorized_client")
                    ) =>
                {
                    let mut reason = format!("the authorization server ended the grant: {}", e);
                    if let (Some(source), Some(fingerprint)) =
                        (&account.assertion_source, &sent_assertion)
                    {
                        // Not sent again: the next token request waits for the
                        // platform's next assertion (check_usable).
                        self.db()
                            .set_assertion_refused(&account.id, Some(fingerprint))?;
                        reason = match source {
                            crate::workload::AssertionSource::IdJag(link) => format!(
                                "the authorization server refused the ID-JAG from {link}: {e}; \
                                 ask your administrator whether it trusts that identity provider for client {}",
                                account.client_id
                            ),
                            _ => format!(
                                "the authorization server refused the workload assertion from {source}: {e}; \
                                 it is not sent again, and the next token request tries once the platform has renewed it"
                            ),
                        };
                    }
                    // A registration the server deleted is not presented again:
                    // the next sign-in registers anew (SEP-2352's advice for a
                    // client the server no longer knows).
                    if e.oauth_error() == Some("invalid_client")
                        && account.registration == RegistrationKind::Dynamic
                    {
                        self.db()
                            .mark_client_rejected(&account.issuer, &account.client_id)?;
                        reason.push_str(
                            "; it no longer knows MCP Auth's registration, so signing in again registers anew",
                        );
                    }
                    self.db().set_status(
                        &account.id,
                        &AccountStatus::NeedsSignIn {
                            reason: reason.clone(),
                        },
                        Some(&error_activity(
                            "error",
                            "refresh refused; sign in again",
                            &e,
                        )),
                    )?;
                    return Err(Error::NeedsSignIn {
                        account: account.id.clone(),
                        reason,
                    });
                }
                // A server that let the whole timeout pass is not asked again in
                // this call: the caller (a credential helper, a proxied request)
                // would wait several timeouts. The scheduler tries again later.
                Err(e)
                    if e.is_transient()
                        && !matches!(e, mcpauth_core::Error::Timeout { .. })
                        && attempt < self.options.refresh_attempts =>
                {
                    let wait = backoff(attempt, e.retry_after());
                    tracing::info!(account = %account.id, attempt, ?wait, "refresh failed for a passing reason; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    let retry_at = e.is_transient().then(|| now_secs() + 60);
                    let status = AccountStatus::Error {
                        message: e.to_string(),
                        retry_at,
                    };
                    self.db().set_status(
                        &account.id,
                        &status,
                        Some(&error_activity("error", "refresh failed", &e)),
                    )?;
                    return Err(e.into());
                }
            }
        }
    }

    /// Signs out: revokes (refresh token first, then access token) where the server
    /// allows, then deletes the account and its secrets whatever revocation said.
    pub async fn sign_out(&self, selector: &str) -> Result<SignOutReport> {
        let account = self.account(selector)?;
        let _lock = self.lock_account(&account.id).await?;
        let bundle = self.read_bundle(&account.id)?;
        let mut report = SignOutReport {
            account: account.id.clone(),
            revocation_supported: false,
            refresh_token: None,
            access_token: None,
            shared_ended: Vec::new(),
        };
        match (self.discovery(&account.id), self.client_of(&account)) {
            // Its access token comes from another account's grant: revoking
            // it may end that grant too (RFC 7009 §2.1), so it is left to
            // expire.
            (Ok(_), Ok(_)) if account.grant_holder.is_some() => {
                report.revocation_supported = true;
                report.access_token = Some(Err(format!(
                    "left to expire: revoking it could end the sign-in of account {}, whose grant it shares",
                    account.grant_holder.as_deref().unwrap_or_default()
                )));
            }
            (Ok(discovery), Ok(client)) => {
                let rt = bundle
                    .as_ref()
                    .and_then(|b| b.refresh_token.clone())
                    .map(RefreshToken::new);
                let at = bundle
                    .as_ref()
                    .map(|b| AccessToken::new(b.access_token.clone()));
                let outcome = token::revoke_grant(
                    self.http()?,
                    &discovery.metadata,
                    &client,
                    rt.as_ref(),
                    at.as_ref(),
                )
                .await;
                let text =
                    |r: Option<mcpauth_core::Result<()>>| r.map(|r| r.map_err(|e| e.to_string()));
                report.revocation_supported = outcome.supported;
                report.refresh_token = text(outcome.refresh_token);
                report.access_token = text(outcome.access_token);
            }
            (Err(e), _) | (_, Err(e)) => {
                report.refresh_token = Some(Err(format!("not revoked: {e}")));
            }
        }
        self.forget_bundle(&account.id);
        self.secrets.delete(&Self::tokens_key(&account.id))?;
        self.secrets.delete(&Self::client_key(&account.id))?;
        if account.dpop_jkt.is_some() {
            self.secrets.delete(&Self::dpop_key_name(&account.id))?;
        }
        self.db().delete(&account.id)?;
        report.shared_ended = self.end_shared_grants(&account, "signed out")?;
        Ok(report)
    }

    /// A machine account's step-up: a new client credentials token for the
    /// union of its scopes and `added` (no browser, no refresh token involved).
    pub async fn widen_machine_scopes(&self, selector: &str, added: &Scopes) -> Result<Account> {
        crate::exchanges::capture(async {
            let account = self.account(selector)?;
            if account.kind != AccountKind::Machine {
                return Err(Error::Invalid(format!(
                    "{} is not a machine account: widen it with a new sign-in",
                    account.id
                )));
            }
            self.check_usable(&account)?;
            let _lock = self.lock_account(&account.id).await?;
            let mut widened = self.account(&account.id)?;
            widened.requested_scopes = Scopes::parse(&widened.requested_scopes)
                .union(added)
                .to_string();
            let bundle = self.read_bundle(&widened.id)?;
            self.refresh_locked(&widened, bundle.as_ref()).await
        })
        .await
    }

    /// Asks for more scopes: refresh with the union first, else says a browser sign-in
    /// for the union is needed (SPEC §4.4).
    pub async fn upgrade_by_refresh(
        &self,
        selector: &str,
        added: &Scopes,
    ) -> Result<UpgradeOutcome> {
        crate::exchanges::capture(self.upgrade_by_refresh_captured(selector, added)).await
    }

    async fn upgrade_by_refresh_captured(
        &self,
        selector: &str,
        added: &Scopes,
    ) -> Result<UpgradeOutcome> {
        let account = self.account(selector)?;
        self.check_usable(&account)?;
        let _lock = self.lock_account(&account.id).await?;
        let bundle = self.read_bundle(&account.id)?.ok_or(Error::SecretMissing {
            account: account.id.clone(),
            what: "tokens",
        })?;
        let current =
            Scopes::parse(&account.requested_scopes).union(&Scopes::parse(&bundle.scopes));
        let wanted = current.union(added);
        let Some(rt) = bundle.refresh_token.clone() else {
            return Ok(UpgradeOutcome::NeedsReauthorization {
                scopes: wanted,
                reason: "there is no refresh token to widen".into(),
            });
        };
        let discovery = self.discovery(&account.id)?;
        let client = self.client_of(&account)?;
        self.db().set_status(
            &account.id,
            &AccountStatus::Upgrading {
                scopes: added.to_string(),
            },
            None,
        )?;
        let outcome = token::upgrade_by_refresh(
            self.http()?,
            &discovery.metadata,
            &client,
            &RefreshToken::new(rt),
            &account.resource,
            &current,
            added,
        )
        .await;
        let restore = AccountStatus::Active {
            expires_at: account.expires_at,
        };
        match outcome {
            Ok(RefreshUpgrade::Granted(tokens)) => {
                let updated = self.replace_tokens(
                    &account,
                    &tokens,
                    Some(&bundle),
                    Some(&wanted),
                    activity(
                        "upgrade",
                        format!(
                            "refresh granted {}",
                            tokens
                                .scopes
                                .as_ref()
                                .map(|s| s.to_string())
                                .unwrap_or_default()
                        ),
                    ),
                )?;
                Ok(UpgradeOutcome::Granted(Box::new(updated)))
            }
            Ok(RefreshUpgrade::NeedsReauthorization {
                wanted,
                issued,
                reason,
            }) => {
                match issued {
                    // The server issued something (maybe rotating the refresh token): keep it.
                    Some(tokens) => {
                        self.replace_tokens(
                            &account,
                            &tokens,
                            Some(&bundle),
                            None,
                            activity("upgrade", reason.clone()),
                        )?;
                    }
                    None => self.db().set_status(
                        &account.id,
                        &restore,
                        Some(&activity("upgrade", reason.clone())),
                    )?,
                }
                Ok(UpgradeOutcome::NeedsReauthorization {
                    scopes: wanted,
                    reason,
                })
            }
            Err(e) => {
                self.db().set_status(
                    &account.id,
                    &restore,
                    Some(&error_activity("error", "upgrade by refresh failed", &e)),
                )?;
                Err(e.into())
            }
        }
    }

    /// Stores what a re-authorization of an existing account returned.
    pub(crate) fn store_reauthorization(
        &self,
        account: &Account,
        tokens: &TokenResponse,
        requested: Option<&Scopes>,
        moved: Option<Moved<'_>>,
    ) -> Result<Account> {
        let previous = self.read_bundle(&account.id)?;
        // A grant of its own now: it no longer shares another account's,
        // and the accounts that shared its old one sign in again.
        let own = Account {
            grant_holder: None,
            ..account.clone()
        };
        if account.grant_holder.is_some() {
            self.db().set_grant_holder(&account.id, None)?;
        }
        // The accounts that shared its grant keep sharing the new one, from
        // the same client at the same server for the same person; else
        // they sign in again.
        let another_person = subject_of(tokens)
            .is_some_and(|s| account.subject.as_ref().is_some_and(|was| *was != s));
        if another_person {
            self.end_shared_grants(account, "signed in again as another person")?;
        } else if moved.as_ref().is_some_and(|m| {
            m.discovery.issuer != account.issuer || m.client.client_id != account.client_id
        }) {
            self.end_shared_grants(account, "moved to another authorization server or client")?;
        }
        let account = &own;
        if let Some(moved) = moved {
            return self.store_moved(account, tokens, previous.as_ref(), requested, moved);
        }
        let summary = format!(
            "signed in again ({})",
            tokens
                .scopes
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default()
        );
        self.replace_tokens(
            account,
            tokens,
            previous.as_ref(),
            requested,
            activity("sign_in", summary),
        )
    }

    /// The account moves to the new authorization server, or to a new client
    /// on the same one (a registration made again, another redirect URI): its
    /// client credential (or none), its tokens, then issuer, client, discovery
    /// and token facts in one database transaction. The old client is never
    /// used with the new server (SEP-2352).
    fn store_moved(
        &self,
        account: &Account,
        tokens: &TokenResponse,
        previous: Option<&TokenBundle>,
        requested: Option<&Scopes>,
        moved: Moved<'_>,
    ) -> Result<Account> {
        match moved.credential {
            Some(credential) => self.write_credential(&account.id, credential)?,
            None => self.secrets.delete(&Self::client_key(&account.id))?,
        }
        let generation = account.generation.max(previous.map_or(0, |p| p.generation)) + 1;
        // The old server's refresh token means nothing to the new one.
        let bundle = bundle_from(tokens, None, generation);
        self.write_bundle(&account.id, &bundle)?;
        let mut updated = account.clone();
        updated.issuer = moved.discovery.issuer.clone();
        updated.resource = moved.discovery.resource.clone();
        updated.client_id = moved.client.client_id.clone();
        updated.registration = moved.client.kind;
        updated.client_auth = moved.client.auth.method_name().to_string();
        updated.signing_alg = moved.signing_alg;
        updated.redirect_uri = moved.client.redirect_uris.first().cloned();
        updated.offered_scopes = moved.discovery.offered_scopes().join(" ");
        mirror(&mut updated, &bundle);
        updated.status = AccountStatus::Active {
            expires_at: bundle.expires_at,
        };
        updated.last_refresh_at = Some(now_secs());
        if let Some(subject) = subject_of(tokens) {
            updated.subject = Some(subject);
        }
        if let Some(requested) = requested {
            updated.requested_scopes = requested.to_string();
        }
        let discovery_json =
            serde_json::to_string(moved.discovery).map_err(|e| Error::Invalid(e.to_string()))?;
        let summary = if updated.issuer != account.issuer {
            format!(
                "signed in at {}, which the server now names instead of {} (client {})",
                updated.issuer, account.issuer, updated.client_id
            )
        } else if updated.client_id != account.client_id {
            format!(
                "signed in again with a new registration at {} (client {}, was {})",
                updated.issuer, updated.client_id, account.client_id
            )
        } else {
            format!(
                "signed in again (redirect URI now {})",
                updated.redirect_uri.as_deref().unwrap_or("none")
            )
        };
        let step = activity("sign_in", summary);
        self.db().move_account(&updated, &discovery_json, &step)?;
        Ok(updated)
    }

    /// Sets the stored access token's expiry, as if time had passed (tests and diagnostics).
    #[doc(hidden)]
    pub fn expire_access_token(&self, id: &str, expires_at: i64) -> Result<()> {
        let mut bundle = self.read_bundle(id)?.ok_or(Error::SecretMissing {
            account: id.to_string(),
            what: "tokens",
        })?;
        bundle.expires_at = Some(expires_at);
        bundle.issued_at = Some(expires_at - 3600);
        bundle.generation += 1;
        self.write_bundle(id, &bundle)?;
        let account = self.account(id)?;
        self.repair_record(&account, &bundle, false)?;
        Ok(())
    }
}

/// How long a token must still be valid to serve when its refresh failed:
/// room for the request it is sent with.
const STILL_VALID_SECS: i64 = 10;

/// A failure that passes (the server unreachable or busy), not a refusal.
fn is_passing(e: &Error) -> bool {
    matches!(e, Error::Protocol(p) if p.is_transient())
}

/// Exponential back-off with jitter, or the server's Retry-After (capped).
fn backoff(attempt: u32, retry_after: Option<u64>) -> Duration {
    if let Some(secs) = retry_after {
        return Duration::from_secs(secs.min(30));
    }
    let base = 500u64 * (1 << attempt.saturating_sub(1).min(6));
    Duration::from_millis(base + rand::thread_rng().gen_range(0..=base / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let first = backoff(1, None);
        let third = backoff(3, None);
        assert!(first >= Duration::from_millis(500) && first <= Duration::from_millis(750));
        assert!(third >= Duration::from_millis(2000) && third <= Duration::from_millis(3000));
        assert_eq!(backoff(1, Some(7)), Duration::from_secs(7));
        assert_eq!(backoff(1, Some(3600)), Duration::from_secs(30));
    }
}
