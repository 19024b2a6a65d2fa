//! The proxy's auth layer: which token goes on a request, and what to do when
//! the server refuses it. Sign-in is lazy (SPEC §6.4): with no account the
//! proxy sends no token, and signs in on the first 401, from that 401's own
//! challenge; a known account is refreshed on a 401; a 403
//! `insufficient_scope` steps up to the union of scopes (SPEC §4.5).
//!
//! However many requests are refused at once, one sign-in (or refresh) runs
//! and the others wait for it; and a server that refuses even a fresh sign-in
//! opens the browser once, not once per message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use mcpauth_core::challenge::BearerChallenge;
use mcpauth_core::discovery::Probe;
use mcpauth_core::scopes::{Scopes, StepUp};
use mcpauth_core::secret::AccessToken;
use mcpauth_vault::{
    AccountKind, AssertionSource, ClientChoice, ClientCredential, Error as VaultError,
    IdTokenSource, MachineAccountRequest, SignInRequest, Vault,
};

use super::lock;
use super::scrub::Scrubber;
use crate::login::interactive_sign_in;

/// How a new account is made when the server first asks for one.
#[derive(Debug, Clone)]
pub enum SignInWith {
    /// Authorization code in the browser, with the client the flags name (if any).
    Browser(ClientChoice),
    /// A machine account: client credentials with a secret or a private key,
    /// or a workload's JWT bearer grant (`assertion`).
    Machine {
        client_id: String,
        credential: Option<ClientCredential>,
        assertion: Option<AssertionSource>,
    },
}

/// The token a request was sent with, and which sign-in it came from.
pub struct Credential {
    pub token: Option<AccessToken>,
    /// The key the token is bound to (RFC 9449): it goes out with the `DPoP`
    /// scheme and a fresh proof of this key. `None`: a Bearer token.
    pub dpop: Option<std::sync::Arc<mcpauth_core::dpop::DpopKey>>,
    generation: u64,
}

/// What one request has tried already.
#[derive(Debug, Default)]
pub struct Attempts {
    refreshed: bool,
    signed_in: bool,
}

/// Why the auth layer gives up on a request; the text is for the client and the log.
#[derive(Debug)]
pub struct AuthFailure(pub String);

pub struct Auth {
    vault: Vault,
    url: String,
    how: SignInWith,
    first_scopes: Option<Scopes>,
    authorization_server: Option<String>,
    account: Mutex<Option<String>>,
    /// Bumped by every sign-in and step-up: a request refused with an older
    /// token is simply sent again.
    generation: AtomicU64,
    /// Set when a sign-in failed or its token was refused: no more browsers.
    refused: Mutex<Option<String>>,
    sign_in: tokio::sync::Mutex<()>,
    step_up: Mutex<StepUp>,
    scrubber: Scrubber,
}

impl Auth {
    pub fn new(
        vault: Vault,
        url: String,
        account: Option<String>,
        how: SignInWith,
        first_scopes: Option<Scopes>,
        authorization_server: Option<String>,
        scrubber: Scrubber,
    ) -> Self {
        Self {
            vault,
            url,
            how,
            first_scopes,
            authorization_server,
            account: Mutex::new(account),
            generation: AtomicU64::new(0),
            refused: Mutex::new(None),
            sign_in: tokio::sync::Mutex::new(()),
            step_up: Mutex::new(StepUp::new()),
            scrubber,
        }
    }

    pub fn account(&self) -> Option<String> {
        lock(&self.account).clone()
    }

    /// The token to send now: none before the first sign-in, and none for an
    /// account that needs a new one (the server's 401 then brings the challenge
    /// the sign-in starts from).
    pub async fn credential(&self) -> Result<Credential, AuthFailure> {
        let generation = self.generation.load(Ordering::SeqCst);
        let Some(account) = self.account() else {
            return Ok(Credential {
                token: None,
                dpop: None,
                generation,
            });
        };
        match self.vault.token(&account).await {
            Ok(token) => {
                self.scrubber.remember(token.secret());
                let dpop = self.dpop_key(&account)?;
                Ok(Credential {
                    token: Some(token),
                    dpop,
                    generation,
                })
            }
            Err(VaultError::NeedsSignIn { reason, .. }) => {
                eprintln!(
                    "mcpauth proxy: account {account} needs a new sign-in ({})",
                    self.scrubber.printable(&reason)
                );
                Ok(Credential {
                    token: None,
                    dpop: None,
                    generation,
                })
            }
            Err(VaultError::SecretMissing { .. }) => Ok(Credential {
                token: None,
                dpop: None,
                generation,
            }),
            Err(e) => Err(AuthFailure(format!("cannot read the token: {e}"))),
        }
    }

    /// The DPoP key of the account's current token, when the token is bound
    /// to one. A bound token whose key is gone cannot be used: that is said,
    /// not papered over with a Bearer header the server would refuse.
    fn dpop_key(
        &self,
        account: &str,
    ) -> Result<Option<std::sync::Arc<mcpauth_core::dpop::DpopKey>>, AuthFailure> {
        let record = self
            .vault
            .account(account)
            .map_err(|e| AuthFailure(format!("cannot read account {account}: {e}")))?;
        self.vault
            .bound_key(&record)
            .map_err(|e| AuthFailure(format!("the DPoP key of account {account}: {e}")))
    }

    /// After a 401: refresh, else sign in, else give up. `Ok` means: send again.
    pub async fn unauthorized(
        &self,
        used: &Credential,
        attempts: &mut Attempts,
        operation: &str,
        probe: Probe,
    ) -> Result<(), AuthFailure> {
        if self.generation.load(Ordering::SeqCst) != used.generation {
            return Ok(()); // a sign-in finished while this request was out
        }
        if lock(&self.refused).is_some() {
            // Neither a refresh nor the browser helped before: do not spend the
            // authorization server's time on every message.
            return self.sign_in(used.generation, probe, None).await;
        }
        if let (Some(token), Some(account), false) =
            (&used.token, self.account(), attempts.refreshed)
        {
            attempts.refreshed = true;
            match self.vault.token_after_rejection(&account, token).await {
                Ok(fresh) if fresh.secret() != token.secret() => {
                    self.scrubber.remember(fresh.secret());
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) => eprintln!(
                    "mcpauth proxy: refresh failed: {}",
                    self.scrubber.printable(&e.to_string())
                ),
            }
        }
        if attempts.signed_in {
            let why = format!(
                "{} still refuses the token of a new sign-in (HTTP 401)",
                self.url
            );
            *lock(&self.refused) = Some(why.clone());
            return Err(AuthFailure(why));
        }
        attempts.signed_in = true;
        lock(&self.step_up).count(&self.url, operation);
        self.sign_in(used.generation, probe, None).await
    }

    /// After a 403 `insufficient_scope`: a new sign-in for the union of scopes,
    /// at most three times for one operation.
    pub async fn insufficient_scope(
        &self,
        used: &Credential,
        operation: &str,
        challenge: &BearerChallenge,
        probe: Probe,
    ) -> Result<(), AuthFailure> {
        if self.generation.load(Ordering::SeqCst) != used.generation {
            return Ok(());
        }
        let account = self.account().and_then(|id| self.vault.account(&id).ok());
        let requested = account
            .as_ref()
            .map(|a| Scopes::parse(&a.requested_scopes).union(&Scopes::parse(&a.granted_scopes)))
            .unwrap_or_default();
        let scopes = lock(&self.step_up)
            .next_scopes(&self.url, operation, &requested, challenge)
            .map_err(|e| AuthFailure(e.to_string()))?;
        eprintln!("mcpauth proxy: {operation} needs more scopes; signing in again for: {scopes}");
        match account {
            Some(a) if a.kind == AccountKind::Machine => {
                let _one = self.sign_in.lock().await;
                self.vault
                    .widen_machine_scopes(&a.id, &scopes)
                    .await
                    .map_err(|e| AuthFailure(e.to_string()))?;
                self.generation.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            _ => self.sign_in(used.generation, probe, Some(scopes)).await,
        }
    }

    /// An operation went through: its step-up budget starts again.
    pub fn succeeded(&self, operation: &str) {
        lock(&self.step_up).succeeded(&self.url, operation);
    }

    async fn sign_in(
        &self,
        seen: u64,
        probe: Probe,
        scopes: Option<Scopes>,
    ) -> Result<(), AuthFailure> {
        let _one = self.sign_in.lock().await;
        if self.generation.load(Ordering::SeqCst) != seen {
            return Ok(()); // another request signed in while this one waited
        }
        let refused = lock(&self.refused).clone();
        if let Some(why) = refused {
            if self.adopt_other_account() {
                return Ok(());
            }
            return Err(AuthFailure(format!(
                "{why}; not opening the browser again. Sign in with `mcpauth login {}` \
                 (the proxy uses the new account on the next message), or restart the client",
                self.url
            )));
        }
        let account = self.account();
        // A machine account gets its next token from its own grant, in the
        // vault; never from the browser, and never by making another account
        // with the same credential. For a workload that matters twice: the
        // vault does not send an assertion the server refused, where a new
        // account would send it again (SEP-1933: no retry with the same
        // assertion, no other grant).
        let machine = account
            .as_ref()
            .and_then(|id| self.vault.account(id).ok())
            .filter(|a| a.kind == AccountKind::Machine);
        if let Some(machine) = machine {
            // An enterprise-managed account whose sign-in at the identity
            // provider is over: that sign-in, in the browser, comes first.
            if let Some(AssertionSource::IdJag(link)) = &machine.assertion_source {
                if link.id_token == IdTokenSource::SignIn
                    && self
                        .vault
                        .idp_signed_in(link)
                        .map_err(|e| AuthFailure(e.to_string()))?
                        .is_none()
                {
                    crate::idp::sign_in(&self.vault, link)
                        .await
                        .map_err(|e| AuthFailure(self.scrubber.printable(&e.message)))?;
                }
            }
            return match self.vault.token(&machine.id).await {
                Ok(token) => {
                    self.scrubber.remember(token.secret());
                    self.generation.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
                Err(e) => Err(AuthFailure(self.scrubber.printable(&e.to_string()))),
            };
        }
        let result = match &self.how {
            SignInWith::Machine {
                client_id,
                credential,
                assertion,
            } => {
                let request = MachineAccountRequest {
                    mcp_url: self.url.clone(),
                    name: None,
                    client_id: client_id.clone(),
                    credential: credential.clone(),
                    assertion: assertion.clone(),
                    scopes: scopes.or_else(|| self.first_scopes.clone()),
                    authorization_server: self.authorization_server.clone(),
                    probe: Some(probe),
                };
                match self.vault.add_machine_account(request.clone()).await {
                    // Enterprise-managed: the sign-in at the identity provider
                    // first (once), then the server is added without a browser.
                    Err(VaultError::NeedsIdpSignIn { .. })
                        if matches!(assertion, Some(AssertionSource::IdJag(link))
                            if link.id_token == IdTokenSource::SignIn) =>
                    {
                        let Some(AssertionSource::IdJag(link)) = assertion else {
                            unreachable!("matched above")
                        };
                        match crate::idp::sign_in(&self.vault, link).await {
                            Ok(()) => self.vault.add_machine_account(request).await,
                            Err(e) => Err(VaultError::Invalid(e.message)),
                        }
                    }
                    other => other,
                }
                .map_err(|e| e.to_string())
            }
            SignInWith::Browser(client) => {
                if account.is_none() {
                    eprintln!("mcpauth proxy: {} asks for a sign-in", self.url);
                }
                let request = SignInRequest {
                    mcp_url: self.url.clone(),
                    scopes: scopes.or_else(|| {
                        account
                            .is_none()
                            .then(|| self.first_scopes.clone())
                            .flatten()
                    }),
                    client: client.clone(),
                    authorization_server: self.authorization_server.clone(),
                    account: account.clone(),
                    probe: Some(probe),
                    ..Default::default()
                };
                match account {
                    // A new server: with a sign-in its authorization server
                    // accepted for another server before, no browser.
                    None => {
                        crate::login::shared_or_browser(&self.vault, request, None, false).await
                    }
                    Some(_) => interactive_sign_in(&self.vault, request, false).await,
                }
                .map_err(|f| f.message)
            }
        };
        match result {
            Ok(signed_in) => {
                eprintln!(
                    "mcpauth proxy: signed in as account {}{}",
                    signed_in.id,
                    signed_in
                        .subject
                        .as_ref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default()
                );
                *lock(&self.account) = Some(signed_in.id);
                self.generation.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Err(message) => {
                let why = format!("the sign-in failed: {message}");
                *lock(&self.refused) = Some(why.clone());
                Err(AuthFailure(why))
            }
        }
    }

    /// After a refused sign-in: an account for this server that appeared since
    /// (the user signed in with `mcpauth login` or the app) is used instead.
    fn adopt_other_account(&self) -> bool {
        let current = self.account();
        match self.vault.account(&self.url) {
            Ok(found) if Some(&found.id) != current.as_ref() => {
                eprintln!(
                    "mcpauth proxy: using account {}, signed in elsewhere",
                    found.id
                );
                *lock(&self.account) = Some(found.id);
                *lock(&self.refused) = None;
                self.generation.fetch_add(1, Ordering::SeqCst);
                true
            }
            _ => false,
        }
    }
}
