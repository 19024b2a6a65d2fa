//! One sign-in per authorization server: a new MCP server whose authorization
//! server already holds the user's grant is added with that grant's refresh
//! token, asked for the new server's `resource` (RFC 8707 §2.2), without a
//! browser.
//!
//! The refresh token stays with the account that holds the grant: servers
//! may rotate it on every use (oidc-provider does), so two accounts cannot
//! each keep a copy. An account added this way names its holder and keeps
//! only its own access token; its refresh runs under the holder's lock with
//! the holder's refresh token, and a rotated one goes back to the holder.
//!
//! A refusal is not free everywhere: oidc-provider rotates (spends) the
//! refresh token before it checks the resource, so a refused request ends
//! the holder's grant. So the request is sent only where this authorization
//! server accepted one before, or where the user names the account to share
//! (`mcpauth login --through`); a refusal is remembered, and the holder is
//! checked at once, so what it cost is said there and then.

use mcpauth_core::discovery::{discover, DiscoverOptions, Discovery};
use mcpauth_core::scopes::Scopes;
use mcpauth_core::secret::RefreshToken;
use mcpauth_core::token::{self, TokenResponse};

use crate::broker::{activity, error_activity, mirror, NewAccount};
use crate::error::{Error, Result};
use crate::model::{Account, AccountKind, AccountStatus, TokenBundle};
use crate::signin::SignInRequest;
use crate::Vault;

/// What [`Vault::sign_in_with_shared_grant`] did.
#[derive(Debug)]
pub enum SharedSignIn {
    /// The new account, whose tokens came from `holder`'s sign-in.
    Added {
        account: Box<Account>,
        holder: Box<Account>,
    },
    /// Nothing was sent. Why, when an account at that authorization server
    /// exists (it says how to share its sign-in, or why not); `None` when
    /// there is no sign-in there to share.
    NotTried(Option<String>),
    /// The authorization server refused; no account was made. `holder` is
    /// the sharing account as it is now: still active, or needing a sign-in
    /// when the refusal spent its refresh token.
    Refused {
        reason: String,
        holder: Box<Account>,
    },
}

/// An account whose sign-in could add a server ([`Vault::share_offers`]).
#[derive(Debug, Clone)]
pub struct ShareOffer {
    pub holder: Account,
    /// Why its sign-in cannot serve this server, when it cannot.
    pub unavailable: Option<String>,
    /// What this authorization server answered the last time it was asked
    /// to accept this client's refresh token for another server: accepted
    /// or not, and the detail.
    pub answered_before: Option<(bool, String)>,
}

/// The OAuth errors that mean "not for this resource (or this grant)".
fn is_refusal(e: &mcpauth_core::Error) -> bool {
    matches!(
        e.oauth_error(),
        Some(
            "invalid_target"
                | "invalid_grant"
                | "invalid_scope"
                | "invalid_client"
                | "unauthorized_client"
                | "invalid_request"
        )
    )
}

/// The tokens an account that shares a grant keeps: its access token, never
/// the holder's refresh token.
fn without_refresh_token(tokens: &TokenResponse) -> TokenResponse {
    TokenResponse {
        refresh_token: None,
        ..tokens.clone()
    }
}

impl Vault {
    /// Adds the MCP server of `request` with the refresh token of an account
    /// at the same authorization server, asked for the new server's resource.
    /// `through` names that account; without it, only an authorization
    /// server that accepted such a refresh before is asked.
    pub async fn sign_in_with_shared_grant(
        &self,
        request: &SignInRequest,
        through: Option<&str>,
    ) -> Result<SharedSignIn> {
        crate::exchanges::capture(self.sign_in_with_shared_grant_captured(request, through)).await
    }

    async fn sign_in_with_shared_grant_captured(
        &self,
        request: &SignInRequest,
        through: Option<&str>,
    ) -> Result<SharedSignIn> {
        let named = through.map(|s| self.account(s)).transpose()?;
        let named = match named {
            Some(a) if a.kind != AccountKind::User => {
                return Err(Error::Invalid(format!(
                    "account {} is a machine account; only a person's sign-in can be shared",
                    a.id
                )))
            }
            // An account that shares a grant passes it on: its holder's.
            Some(a) => match &a.grant_holder {
                Some(holder) => Some(self.account(holder)?),
                None => Some(a),
            },
            None => None,
        };
        if request.account.is_some() || request.client.client_id.is_some() {
            return match named {
                Some(_) => Err(Error::Invalid(
                    "a shared sign-in uses the sharing account's client and makes a new account; \
                     drop --client-id (or the account to sign in again)"
                        .into(),
                )),
                None => Ok(SharedSignIn::NotTried(None)),
            };
        }
        // No sign-in to share: no discovery either.
        let any_holder = self.list()?.iter().any(|a| {
            a.kind == AccountKind::User && a.grant_holder.is_none() && a.has_refresh_token
        });
        if named.is_none() && !any_holder {
            return Ok(SharedSignIn::NotTried(None));
        }
        let discovery = discover(
            self.http()?,
            &request.mcp_url,
            &DiscoverOptions {
                authorization_server: request.authorization_server.clone(),
                preferred_authorization_server: named.as_ref().map(|a| a.issuer.clone()),
                probe: request.probe.clone(),
            },
        )
        .await?;
        let holder = match named {
            Some(holder) => {
                if holder.issuer != discovery.issuer {
                    return Err(Error::Invalid(format!(
                        "account {} is signed in at {}, but {} uses {}; a sign-in is shared only on one authorization server",
                        holder.id, holder.issuer, discovery.mcp_url, discovery.issuer
                    )));
                }
                if let Some(why) = self.cannot_share(&holder, &discovery)? {
                    return Err(Error::Invalid(format!(
                        "the sign-in of account {} cannot be shared: {why}",
                        holder.id
                    )));
                }
                holder
            }
            None => match self.known_holder(&discovery)? {
                Ok(holder) => holder,
                Err(why) => return Ok(SharedSignIn::NotTried(why)),
            },
        };
        let wanted = request.scopes.clone().or_else(|| {
            mcpauth_core::scopes::select_scopes(
                discovery.challenge.as_ref(),
                discovery.resource_metadata.as_ref(),
                &discovery.metadata,
            )
        });
        // A refresh may ask for no scope beyond the grant's (RFC 6749 §6):
        // those the grant has, and the server's step-up asks for the rest.
        let granted = Scopes::parse(&holder.granted_scopes);
        if let Some(asked) = &request.scopes {
            let beyond = asked.missing_from(&granted);
            if !beyond.is_empty() {
                let why = format!(
                    "you asked for {beyond}, which the sign-in of account {} does not hold",
                    holder.id
                );
                return match through {
                    Some(_) => Err(Error::Invalid(format!(
                        "{why}; drop those scopes, or sign in through the browser"
                    ))),
                    None => Ok(SharedSignIn::NotTried(Some(why))),
                };
            }
        }
        let scopes = wanted
            .map(|w| w.intersection(&granted))
            .filter(|s| !s.is_empty());
        let client = self.client_of(&holder)?;
        let Some(outcome) = self
            .refresh_with_holders_token(
                &holder.id,
                &discovery,
                &client,
                &discovery.resource,
                scopes.as_ref(),
                |_| Ok(()),
            )
            .await?
        else {
            return Ok(SharedSignIn::NotTried(Some(format!(
                "the keyring holds no refresh token of account {}",
                holder.id
            ))));
        };
        match outcome {
            Ok(tokens) => {
                self.db().set_shared_grant(
                    &discovery.issuer,
                    &holder.client_id,
                    true,
                    &format!("accepted for {}", discovery.resource),
                )?;
                let holder = self.account(&holder.id)?;
                let account = self.store_new_account(NewAccount {
                    discovery: &discovery,
                    client: &client,
                    credential: self.read_credential(&holder.id)?.as_ref(),
                    signing_alg: holder.signing_alg.clone(),
                    kind: AccountKind::User,
                    name: request.name.clone(),
                    requested: scopes,
                    tokens: &without_refresh_token(&tokens),
                    discovery_exchanges: crate::exchanges::take(),
                    assertion_source: None,
                    grant_holder: Some(&holder),
                })?;
                Ok(SharedSignIn::Added {
                    account: Box::new(account),
                    holder: Box::new(holder),
                })
            }
            Err(e) if is_refusal(&e) => {
                self.db().set_shared_grant(
                    &discovery.issuer,
                    &holder.client_id,
                    false,
                    &e.to_string(),
                )?;
                self.db().log(
                    &holder.id,
                    &error_activity(
                        "error",
                        format!(
                            "its refresh token was refused for {}; that server signs in through the browser",
                            discovery.mcp_url
                        ),
                        &e,
                    ),
                )?;
                // Some servers spend the refresh token before they refuse:
                // find out now, not at the holder's next refresh.
                let checked = self.refresh_now(&holder.id).await;
                let holder = self.account(&holder.id)?;
                let mut reason = format!("{} refused: {e}", discovery.issuer);
                if let Err(after) = checked {
                    reason.push_str(&format!(
                        "; and the sign-in of account {} no longer works ({after})",
                        holder.id
                    ));
                }
                Ok(SharedSignIn::Refused {
                    reason,
                    holder: Box::new(holder),
                })
            }
            // Unprompted, a server that could not be asked leaves the sign-in
            // to the browser, as before.
            Err(e) if through.is_none() => Ok(SharedSignIn::NotTried(Some(format!(
                "could not ask {} to accept the sign-in of account {}: {e}",
                discovery.issuer, holder.id
            )))),
            Err(e) => Err(e.into()),
        }
    }

    /// Why `holder`'s grant cannot serve the server of `discovery`, if it cannot.
    fn cannot_share(&self, holder: &Account, discovery: &Discovery) -> Result<Option<String>> {
        Ok(if holder.dpop_jkt.is_some() {
            Some("its tokens are bound to a key of this device (DPoP), one key per account".into())
        } else if discovery.resource_accepts_dpop() {
            Some(
                    "this server takes tokens bound to a key of this device (DPoP), one key per account"
                        .into(),
                )
        } else if !holder.has_refresh_token {
            Some("it holds no refresh token".into())
        } else if let Some(why) = match &holder.status {
            AccountStatus::Active { .. } | AccountStatus::Refreshing => None,
            AccountStatus::NeedsSignIn { .. } => Some("it needs a new sign-in"),
            AccountStatus::Upgrading { .. } => Some("its scopes are being upgraded"),
            AccountStatus::Error { .. } => Some("its last refresh failed"),
            AccountStatus::SignedOut => Some("it is signed out"),
        } {
            Some(why.into())
        } else if self.db().client_rejected(&holder.id)? {
            Some("the authorization server no longer knows its client".into())
        } else {
            None
        })
    }

    /// The accounts whose sign-in could add the server of `discovery`: a
    /// person's, at its authorization server, on another server, holding
    /// its own grant. Newest
    /// first, each with why it cannot serve this server (if it cannot) and
    /// what the authorization server answered before for its client.
    pub fn share_offers(&self, discovery: &Discovery) -> Result<Vec<ShareOffer>> {
        let mut holders: Vec<Account> = self
            .list()?
            .into_iter()
            .filter(|a| {
                a.kind == AccountKind::User
                    && a.issuer == discovery.issuer
                    && a.resource != discovery.resource
                    && a.grant_holder.is_none()
            })
            .collect();
        holders.sort_by_key(|a| std::cmp::Reverse(a.updated_at));
        holders
            .into_iter()
            .map(|holder| {
                Ok(ShareOffer {
                    unavailable: self.cannot_share(&holder, discovery)?,
                    answered_before: self
                        .db()
                        .shared_grant(&discovery.issuer, &holder.client_id)?,
                    holder,
                })
            })
            .collect()
    }

    /// The account whose sign-in to share where this authorization server
    /// accepted one before; else why none is tried.
    fn known_holder(
        &self,
        discovery: &Discovery,
    ) -> Result<std::result::Result<Account, Option<String>>> {
        let on_this_server = self
            .list()?
            .iter()
            .any(|a| a.kind == AccountKind::User && a.resource == discovery.resource);
        if on_this_server {
            return Ok(Err(Some(
                "an account on this server exists already; another one signs in through the browser".into(),
            )));
        }
        let mut untried = None;
        let mut accepted: Vec<Account> = Vec::new();
        for offer in self.share_offers(discovery)? {
            if offer.unavailable.is_some() {
                continue;
            }
            match offer.answered_before {
                Some((true, _)) => accepted.push(offer.holder),
                Some((false, detail)) => {
                    return Ok(Err(Some(format!(
                        "{} refused a refresh token for another server before ({detail})",
                        discovery.issuer
                    ))))
                }
                None => {
                    untried.get_or_insert(offer.holder);
                }
            }
        }
        // Several people signed in there: whose sign-in is for the user to say.
        let subjects: std::collections::BTreeSet<_> =
            accepted.iter().map(|a| a.subject.clone()).collect();
        if subjects.len() > 1 {
            let which: Vec<String> = accepted
                .iter()
                .map(|a| {
                    format!(
                        "{} (as {})",
                        a.id,
                        a.subject.as_deref().unwrap_or("unknown")
                    )
                })
                .collect();
            return Ok(Err(Some(format!(
                "several people are signed in at {}: {}; `mcpauth login --through <account>` says whose sign-in to share",
                discovery.issuer,
                which.join(", ")
            ))));
        }
        if let Some(holder) = accepted.into_iter().next() {
            return Ok(Ok(holder));
        }
        Ok(Err(untried.map(|holder| {
            format!(
                "you are signed in at {} with account {} ({}); `mcpauth login --through {}` asks it to \
                 accept that sign-in for this server too, without a browser. It is not asked \
                 unprompted: some servers spend the refresh token when they refuse",
                discovery.issuer, holder.id, holder.name, holder.id
            )
        })))
    }

    /// Under the holder's lock: its refresh token, asked for `resource` with
    /// `scopes`, and a rotated one given back to it. `ready` runs first,
    /// under the lock, with the holder as it is now, and may stop it there.
    /// `Ok(None)`: the holder holds no refresh token (any more).
    async fn refresh_with_holders_token(
        &self,
        holder_id: &str,
        discovery: &Discovery,
        client: &mcpauth_core::registration::ClientRegistration,
        resource: &str,
        scopes: Option<&Scopes>,
        ready: impl FnOnce(&Account) -> Result<()>,
    ) -> Result<Option<mcpauth_core::Result<TokenResponse>>> {
        let _lock = self.lock_account(holder_id).await?;
        let holder = self.account(holder_id)?;
        ready(&holder)?;
        let Some((bundle, rt)) = self
            .read_bundle(holder_id)?
            .and_then(|b| b.refresh_token.clone().map(|rt| (b, rt)))
        else {
            return Ok(None);
        };
        let result = token::refresh(
            self.http()?,
            &discovery.metadata,
            client,
            &RefreshToken::new(rt),
            resource,
            scopes,
        )
        .await;
        if let Ok(tokens) = &result {
            // First the holder's rotated refresh token: it is the grant.
            self.keep_rotated(&holder, &bundle, tokens, resource)?;
        }
        Ok(Some(result))
    }

    /// Gives the holder the refresh token the server rotated (if it did).
    /// Under the holder's lock, which every writer of its tokens takes, so
    /// `bundle` is still its current one.
    fn keep_rotated(
        &self,
        holder: &Account,
        bundle: &TokenBundle,
        tokens: &TokenResponse,
        used_for: &str,
    ) -> Result<()> {
        let Some(rotated) = tokens.refresh_token.as_ref() else {
            return Ok(());
        };
        let mut updated_bundle = bundle.clone();
        updated_bundle.refresh_token = Some(rotated.secret().to_string());
        updated_bundle.generation = holder.generation.max(bundle.generation) + 1;
        self.write_bundle(&holder.id, &updated_bundle)?;
        let mut updated = holder.clone();
        mirror(&mut updated, &updated_bundle);
        self.db().update_tokens(
            &updated,
            Some(&activity(
                "refresh",
                format!(
                    "its refresh token served {used_for}; the server rotated it, and the new one is kept here"
                ),
            )),
        )
    }

    /// The refresh of an account that shares `holder_id`'s grant: under the
    /// holder's lock, with its refresh token, for this account's resource.
    /// Called under this account's own lock (so: this account's lock, then
    /// the holder's; nothing takes them the other way round).
    pub(crate) async fn refresh_with_shared_grant(
        &self,
        account: &Account,
        holder_id: &str,
        bundle: Option<&TokenBundle>,
    ) -> Result<Account> {
        // Logged as the reason itself unless a `step` says more.
        let needs_sign_in =
            |reason: String, step: Option<crate::model::Activity>| -> Result<Account> {
                let step = step.unwrap_or_else(|| activity("error", reason.clone()));
                self.db().set_status(
                    &account.id,
                    &AccountStatus::NeedsSignIn {
                        reason: reason.clone(),
                    },
                    Some(&step),
                )?;
                Err(Error::NeedsSignIn {
                    account: account.id.clone(),
                    reason,
                })
            };
        if self.db().get(holder_id)?.is_none() {
            let reason = format!(
                "it shared the sign-in of account {holder_id}, which was signed out; sign in again"
            );
            return needs_sign_in(reason, None);
        }
        let discovery = self.discovery(&account.id)?;
        let client = self.client_of(account)?;
        let scopes = (!account.requested_scopes.is_empty())
            .then(|| Scopes::parse(&account.requested_scopes));
        let ready = |holder: &Account| -> Result<()> {
            // Unlinked while this waited (the holder signed in again as
            // someone else, or was signed out): nothing to refresh with.
            if self.account(&account.id)?.grant_holder.as_deref() != Some(holder_id) {
                return Err(Error::NeedsSignIn {
                    account: account.id.clone(),
                    reason: "it no longer shares that sign-in; sign in again".into(),
                });
            }
            if matches!(
                holder.status,
                AccountStatus::NeedsSignIn { .. } | AccountStatus::SignedOut
            ) {
                let reason = format!(
                    "it shares the sign-in of account {} ({}), which needs a new sign-in; sign in to that account again",
                    holder.id, holder.name
                );
                return needs_sign_in(reason, None).map(|_| ());
            }
            self.db()
                .set_status(&account.id, &AccountStatus::Refreshing, None)
        };
        let result = match self
            .refresh_with_holders_token(
                holder_id,
                &discovery,
                &client,
                &account.resource,
                scopes.as_ref(),
                ready,
            )
            .await
        {
            Ok(Some(result)) => result,
            Ok(None) => {
                let reason = format!(
                    "it shares the sign-in of account {holder_id}, which holds no refresh token any more; sign in to that account again"
                );
                return needs_sign_in(reason, None);
            }
            Err(e @ Error::NeedsSignIn { .. }) => return Err(e),
            Err(e) => {
                self.db().set_status(
                    &account.id,
                    &AccountStatus::Error {
                        message: e.to_string(),
                        retry_at: None,
                    },
                    Some(&activity("error", e.to_string())),
                )?;
                return Err(e);
            }
        };
        match result {
            Ok(tokens) => self.replace_tokens(
                account,
                &without_refresh_token(&tokens),
                bundle,
                None,
                activity(
                    "refresh",
                    format!("refreshed with the sign-in of account {holder_id}"),
                ),
            ),
            Err(e) if is_refusal(&e) => {
                // The grant may have ended, or the refusal spent its refresh
                // token (oidc-provider): the holder is checked now, and says so.
                // Boxed: a refresh within a refresh (another account's).
                let holder = match Box::pin(self.refresh_now(holder_id)).await {
                    Ok(_) => "its own sign-in still works".to_string(),
                    Err(after) => format!("its own sign-in no longer works either ({after})"),
                };
                let reason = format!(
                    "{} no longer accepts the sign-in of account {holder_id} for this server: {e}; {holder}; sign in again",
                    account.issuer
                );
                needs_sign_in(
                    reason,
                    Some(error_activity(
                        "error",
                        "refresh with the shared sign-in refused",
                        &e,
                    )),
                )
            }
            Err(e) => {
                self.db().set_status(
                    &account.id,
                    &AccountStatus::Error {
                        message: e.to_string(),
                        retry_at: e.is_transient().then(|| crate::model::now_secs() + 60),
                    },
                    Some(&error_activity("error", "refresh failed", &e)),
                )?;
                Err(e.into())
            }
        }
    }

    /// After `holder` was signed out (or signed in again as another person,
    /// or at another server or client): the accounts that shared its grant
    /// need a sign-in of their own. Their ids.
    pub(crate) fn end_shared_grants(&self, holder: &Account, why: &str) -> Result<Vec<String>> {
        let mut ended = Vec::new();
        for linked in self
            .list()?
            .into_iter()
            .filter(|a| a.grant_holder.as_deref() == Some(holder.id.as_str()))
        {
            let reason = format!(
                "it shared the sign-in of account {} ({}), which was {why}; sign in again",
                holder.id, holder.name
            );
            let mut db = self.db();
            db.set_grant_holder(&linked.id, None)?;
            db.set_status(
                &linked.id,
                &AccountStatus::NeedsSignIn {
                    reason: reason.clone(),
                },
                Some(&activity("error", reason)),
            )?;
            ended.push(linked.id);
        }
        Ok(ended)
    }
}
