//! Sign-in sessions: start (discovery, client identity, authorization URL),
//! complete (from the loopback listener, a deep link or a pasted redirect URL),
//! cancel, expire. Pending state lives only in this process's memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpauth_core::authorize::{start_authorization, AuthorizationRequest};
use mcpauth_core::callback::{CallbackParams, PendingStore};
use mcpauth_core::discovery::{discover, DiscoverOptions, Discovery, Probe};
use mcpauth_core::flow::finish_authorization;
use mcpauth_core::loopback::{LoopbackHost, LoopbackListener, CALLBACK_PATH};
use mcpauth_core::registration::{
    obtain_client, ClientAuth, ClientRegistration, PreRegisteredClient, RegistrationKind,
    RegistrationRequest,
};
use mcpauth_core::scopes::{select_scopes, Scopes};
use mcpauth_core::secret::CsrfState;
use mcpauth_core::token;

use crate::broker::{Moved, NewAccount};
use crate::error::{Error, Result};
use crate::model::{Account, AccountKind, AccountStatus, ClientCredential};
use crate::{client_auth_from, Vault};

/// How the browser comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectMode {
    /// A one-shot listener on 127.0.0.1 (`port` 0 = any free port).
    Loopback { port: u16, host: LoopbackHost },
    /// A fixed redirect URI (the `mcpauth://oauth/callback` deep link, or one the
    /// user pastes back); completed with [`Vault::complete_sign_in`].
    Fixed(String),
}

impl Default for RedirectMode {
    fn default() -> Self {
        Self::Loopback {
            port: 0,
            host: LoopbackHost::Ip,
        }
    }
}

/// A client the user brings, and where our client metadata document lives.
#[derive(Debug, Clone, Default)]
pub struct ClientChoice {
    /// A pre-registered client id with its credential, if confidential.
    pub client_id: Option<String>,
    pub credential: Option<ClientCredential>,
    /// The HTTPS URL of a Client ID Metadata Document to use as client id.
    pub client_metadata_url: Option<String>,
}

/// What to sign in to.
#[derive(Debug, Clone, Default)]
pub struct SignInRequest {
    pub mcp_url: String,
    pub name: Option<String>,
    /// Scopes to ask for; by default the challenge's, else the offered ones.
    pub scopes: Option<Scopes>,
    pub redirect: RedirectMode,
    pub client: ClientChoice,
    /// Pick this authorization server when the resource lists several.
    pub authorization_server: Option<String>,
    /// Re-authorize this existing account instead of adding one.
    pub account: Option<String>,
    /// The server's 401/403 already at hand: discovery starts from its challenge.
    pub probe: Option<Probe>,
}

/// A started sign-in: open `authorization_url` in the browser.
#[derive(Debug)]
pub struct SignIn {
    /// Opaque id for [`Vault::cancel_sign_in`].
    pub id: String,
    pub authorization_url: String,
    /// Shown to the user before the browser opens (SPEC §3.8).
    pub authorization_server_host: String,
    pub redirect_uri: String,
    pub scopes: Option<Scopes>,
    /// The server answered without a token and asks for one on the calls it
    /// protects (it publishes resource metadata): worth saying before the browser opens.
    pub signs_in_lazily: bool,
    listener: Option<LoopbackListener>,
    /// The `state` the loopback listener waits for.
    state: CsrfState,
}

/// A machine account (client credentials).
#[derive(Debug, Clone)]
pub struct MachineAccountRequest {
    pub mcp_url: String,
    pub name: Option<String>,
    pub client_id: String,
    /// How the client authenticates: a secret or a private key. Required for
    /// client credentials; a workload account (`assertion`) may go without,
    /// as a public client.
    pub credential: Option<ClientCredential>,
    /// Workload identity (SEP-1933): the JWT bearer grant with the assertion
    /// read from here, instead of client credentials.
    pub assertion: Option<crate::workload::AssertionSource>,
    pub scopes: Option<Scopes>,
    pub authorization_server: Option<String>,
    /// The server's 401/403 already at hand: discovery starts from its challenge.
    pub probe: Option<Probe>,
}

struct SessionContext {
    id: String,
    discovery: Discovery,
    client: ClientRegistration,
    credential: Option<ClientCredential>,
    name: Option<String>,
    scopes: Option<Scopes>,
    account: Option<Account>,
    started: Instant,
    /// Discovery and registration's exchanges, for the activity log.
    exchanges: Vec<crate::exchanges::Exchange>,
}

/// The sign-ins this process started.
pub(crate) struct SignIns {
    pending: PendingStore,
    contexts: Mutex<HashMap<String, Arc<SessionContext>>>,
    timeout: Duration,
}

impl SignIns {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            pending: PendingStore::new(timeout),
            contexts: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    fn contexts(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<SessionContext>>> {
        self.contexts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) fn credential_auth(
    metadata: &mcpauth_core::metadata::AuthorizationServerMetadata,
    credential: &ClientCredential,
) -> Result<ClientAuth> {
    match credential {
        ClientCredential::Secret { value } => Ok(ClientAuth::secret_for(
            metadata,
            mcpauth_core::secret::ClientSecret::new(value.clone()),
        )),
        ClientCredential::PrivateKey { .. } => client_auth_from("private_key_jwt", credential),
    }
}

/// The client the user registered by hand, authenticating with `credential`
/// (a public client without one).
pub(crate) fn pre_registered(
    metadata: &mcpauth_core::metadata::AuthorizationServerMetadata,
    client_id: Option<&String>,
    credential: Option<&ClientCredential>,
) -> Result<Option<PreRegisteredClient>> {
    let Some(id) = client_id else {
        return Ok(None);
    };
    let auth = match credential {
        Some(credential) => credential_auth(metadata, credential)?,
        None => ClientAuth::None,
    };
    Ok(Some(PreRegisteredClient {
        client_id: id.clone(),
        auth,
    }))
}

/// The credential to keep for a client: the one the user gave, else a secret
/// issued by dynamic registration (kept like a pre-registered one).
pub(crate) fn kept_credential(
    given: Option<&ClientCredential>,
    auth: &ClientAuth,
) -> Option<ClientCredential> {
    match (given, auth) {
        (Some(c), _) => Some(c.clone()),
        (None, ClientAuth::SecretBasic(s) | ClientAuth::SecretPost(s)) => {
            Some(ClientCredential::Secret {
                value: s.secret().to_string(),
            })
        }
        _ => None,
    }
}

pub(crate) fn signing_alg(
    credential: Option<&ClientCredential>,
    auth: &ClientAuth,
) -> Option<String> {
    match (credential, auth) {
        (_, ClientAuth::PrivateKeyJwt(key)) => Some(key.algorithm().as_str().to_string()),
        (Some(ClientCredential::PrivateKey { alg, .. }), _) => alg.clone(),
        _ => None,
    }
}

/// The loopback listener (or fixed redirect URI) of a sign-in. With no port
/// asked for, the port of the kept client's registered redirect URI is tried
/// first, so a re-authorization sends the redirect URI it registered; when that
/// port is taken, any free one is used (and a dynamic client registered again).
async fn bind_redirect(
    mode: &RedirectMode,
    registered: Option<&String>,
) -> Result<(Option<LoopbackListener>, String)> {
    let (host, port) = match mode {
        RedirectMode::Fixed(uri) => return Ok((None, uri.clone())),
        RedirectMode::Loopback { port, host } => (*host, *port),
    };
    let registered_port = registered
        .and_then(|uri| url::Url::parse(uri).ok())
        .filter(|uri| uri.scheme() == "http" && uri.path() == CALLBACK_PATH)
        .filter(|uri| matches!(uri.host_str(), Some("127.0.0.1" | "localhost")))
        .and_then(|uri| uri.port());
    let listener = match registered_port.filter(|_| port == 0) {
        Some(kept) => match LoopbackListener::bind(host, kept).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::info!(port = kept, error = %e, "the registered redirect port cannot be used; another is chosen");
                LoopbackListener::bind(host, 0).await?
            }
        },
        None => LoopbackListener::bind(host, port).await?,
    };
    let uri = listener.redirect_uri().to_string();
    Ok((Some(listener), uri))
}

impl Vault {
    /// Discovery, client identity and the authorization URL (SPEC §1–§3).
    pub async fn begin_sign_in(&self, request: SignInRequest) -> Result<SignIn> {
        crate::exchanges::capture(self.begin_sign_in_captured(request)).await
    }

    /// The client a sign-in presents when one is kept for `issuer`: the
    /// account's own (a re-authorization), else the newest other user
    /// account's on the same authorization server, so one client serves every
    /// account there and `--client-id` is asked once. A client the user names
    /// wins over both, and one the server refused (`invalid_client`) is never
    /// presented again.
    fn kept_client(
        &self,
        existing: Option<&Account>,
        issuer: &str,
        choice: &ClientChoice,
    ) -> Result<Option<(ClientRegistration, Option<ClientCredential>)>> {
        if choice.client_id.is_some() || choice.client_metadata_url.is_some() {
            return Ok(None);
        }
        let mut others: Vec<Account> = self
            .list()?
            .into_iter()
            .filter(|a| existing.is_none_or(|e| e.id != a.id))
            .collect();
        others.sort_by_key(|a| std::cmp::Reverse(a.updated_at));
        for account in existing.into_iter().chain(others.iter()) {
            // A device-flow client (no redirect URI) cannot serve a browser sign-in.
            let usable = account.kind == AccountKind::User
                && account.redirect_uri.is_some()
                && account.issuer == issuer
                && account.status != AccountStatus::SignedOut
                && !self.db().client_rejected(&account.id)?;
            if !usable {
                continue;
            }
            // A client whose stored credential is gone is not a usable one.
            let Ok(client) = self.client_of(account) else {
                continue;
            };
            return Ok(Some((client, self.read_credential(&account.id)?)));
        }
        Ok(None)
    }

    async fn begin_sign_in_captured(&self, request: SignInRequest) -> Result<SignIn> {
        let existing = request
            .account
            .as_deref()
            .map(|s| self.account(s))
            .transpose()?;
        let mcp_url = existing
            .as_ref()
            .map(|a| a.server_url.clone())
            .unwrap_or_else(|| request.mcp_url.clone());
        let discovery = discover(
            self.http()?,
            &mcp_url,
            &DiscoverOptions {
                authorization_server: request.authorization_server.clone(),
                preferred_authorization_server: existing.as_ref().map(|a| a.issuer.clone()),
                probe: request.probe.clone(),
            },
        )
        .await?;
        let kept = self.kept_client(existing.as_ref(), &discovery.issuer, &request.client)?;
        let (listener, redirect_uri) = bind_redirect(
            &request.redirect,
            kept.as_ref().and_then(|(c, _)| c.redirect_uris.first()),
        )
        .await?;
        let (mut client, credential) = match kept {
            // The kept client is presented when the redirect URI is one it
            // registered, or when its server matches loopback redirects on any
            // port (a pre-registered or metadata-document client: RFC 8252
            // §7.3). A dynamic registration with another redirect URI is made
            // again, since servers may match redirect URIs exactly.
            Some((client, credential))
                if client.kind != RegistrationKind::Dynamic
                    || client.redirect_uris.contains(&redirect_uri) =>
            {
                let client = ClientRegistration {
                    redirect_uris: vec![redirect_uri.clone()],
                    ..client
                };
                (client, credential)
            }
            _ => {
                let pre_registered = pre_registered(
                    &discovery.metadata,
                    request.client.client_id.as_ref(),
                    request.client.credential.as_ref(),
                )?;
                let client = obtain_client(
                    self.http()?,
                    &discovery.metadata,
                    &RegistrationRequest {
                        pre_registered,
                        client_metadata_url: request.client.client_metadata_url.clone(),
                        client_name: "MCP Auth".into(),
                        redirect_uris: vec![redirect_uri.clone()],
                        scope: None,
                        device_flow: false,
                    },
                )
                .await?;
                let credential = kept_credential(request.client.credential.as_ref(), &client.auth);
                (client, credential)
            }
        };
        client.dpop = self.dpop_for_sign_in(&discovery, existing.as_ref())?;
        let scopes = match (&request.scopes, &existing) {
            (Some(s), Some(a)) => Some(s.union(&Scopes::parse(&a.requested_scopes))),
            (Some(s), None) => Some(s.clone()),
            (None, Some(a)) if !a.requested_scopes.is_empty() => {
                Some(Scopes::parse(&a.requested_scopes))
            }
            _ => select_scopes(
                discovery.challenge.as_ref(),
                discovery.resource_metadata.as_ref(),
                &discovery.metadata,
            ),
        };
        let (url, pending) = start_authorization(
            &discovery.metadata,
            &client,
            &AuthorizationRequest {
                resource: discovery.resource.clone(),
                scopes: scopes.clone(),
                redirect_uri: redirect_uri.clone(),
                prompt: None,
            },
        )?;
        mcpauth_core::authorize::check_browser_url(&url)?;
        let csrf = pending.state.clone();
        let signs_in_lazily = discovery.signs_in_lazily;
        let state = pending.state.secret().to_string();
        let id = crate::new_account_id();
        let context = Arc::new(SessionContext {
            id: id.clone(),
            discovery,
            client,
            credential,
            name: request.name.clone(),
            scopes: scopes.clone(),
            account: existing,
            started: Instant::now(),
            exchanges: crate::exchanges::take(),
        });
        {
            let mut contexts = self.sign_ins.contexts();
            let timeout = self.sign_ins.timeout;
            contexts.retain(|_, c| c.started.elapsed() < timeout);
            contexts.insert(state, context);
        }
        self.sign_ins.pending.insert(pending);
        Ok(SignIn {
            id,
            authorization_server_host: match url.port() {
                Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
                None => url.host_str().unwrap_or_default().to_string(),
            },
            authorization_url: url.to_string(),
            redirect_uri,
            scopes,
            signs_in_lazily,
            listener,
            state: csrf,
        })
    }

    /// Waits for the browser to reach the loopback listener, then completes.
    pub async fn finish_sign_in(&self, sign_in: SignIn) -> Result<Account> {
        let listener = sign_in.listener.ok_or_else(|| {
            Error::Invalid(
                "this sign-in has no loopback listener; complete it with the redirect URL".into(),
            )
        })?;
        let mut callback = listener.wait(&sign_in.state, self.sign_ins.timeout).await?;
        let result = self.complete_with(callback.take_params()).await;
        callback
            .answer(result.as_ref().map(|_| ()).map_err(|e| e.to_string()))
            .await;
        result
    }

    /// Completes a sign-in from the URL the browser was sent to (deep link or pasted).
    pub async fn complete_sign_in(&self, redirect_url: &str) -> Result<Account> {
        self.complete_with(CallbackParams::from_redirect_url(redirect_url)?)
            .await
    }

    async fn complete_with(&self, params: CallbackParams) -> Result<Account> {
        crate::exchanges::capture(self.complete_with_captured(params)).await
    }

    async fn complete_with_captured(&self, params: CallbackParams) -> Result<Account> {
        let context = params
            .state
            .as_deref()
            .and_then(|s| self.sign_ins.contexts().get(s).cloned());
        let Some(context) = context else {
            // Let the core say why (missing, reused), else: no such sign-in.
            return match self.sign_ins.pending.complete(params) {
                Err(
                    e @ mcpauth_core::Error::State {
                        problem:
                            mcpauth_core::StateProblem::Missing | mcpauth_core::StateProblem::Reused,
                    },
                ) => Err(e.into()),
                _ => Err(Error::NoSuchSignIn),
            };
        };
        let state = params.state.clone().unwrap_or_default();
        let result = finish_authorization(
            self.http()?,
            &context.discovery.metadata,
            &context.client,
            &self.sign_ins.pending,
            params,
        )
        .await;
        self.sign_ins.contexts().remove(&state);
        let done = result?;
        match &context.account {
            Some(account) => {
                // Not beside a refresh of this account (or of one sharing
                // its grant), which would write back tokens of the old grant.
                let _lock = self.lock_account(&account.id).await?;
                let account = &self.account(&account.id)?;
                let account = &self.rebind_dpop(account, context.client.dpop.as_ref())?;
                // One entry for the whole re-authorization: discovery first.
                let later = crate::exchanges::take();
                crate::exchanges::record(context.exchanges.iter().cloned().chain(later));
                // The resource moved to another authorization server (SEP-2352):
                // the account takes the new issuer, client and discovery.
                // A new registration, or another redirect URI, is stored the same way.
                let moved = (context.discovery.issuer != account.issuer
                    || context.client.client_id != account.client_id
                    || context.client.redirect_uris.first() != account.redirect_uri.as_ref())
                .then(|| Moved {
                    discovery: &context.discovery,
                    client: &context.client,
                    credential: context.credential.as_ref(),
                    signing_alg: signing_alg(context.credential.as_ref(), &context.client.auth),
                });
                self.store_reauthorization(
                    account,
                    &done.tokens,
                    done.requested_scopes.as_ref(),
                    moved,
                )
            }
            None => self.store_new_account(NewAccount {
                discovery: &context.discovery,
                client: &context.client,
                credential: context.credential.as_ref(),
                signing_alg: signing_alg(context.credential.as_ref(), &context.client.auth),
                kind: AccountKind::User,
                name: context.name.clone(),
                requested: context.scopes.clone(),
                tokens: &done.tokens,
                discovery_exchanges: context.exchanges.clone(),
                assertion_source: None,
                grant_holder: None,
            }),
        }
    }

    /// Drops a sign-in in progress; true if there was one.
    pub fn cancel_sign_in(&self, id: &str) -> bool {
        let mut contexts = self.sign_ins.contexts();
        let state = contexts
            .iter()
            .find(|(_, c)| c.id == id)
            .map(|(s, _)| s.clone());
        match state {
            Some(state) => {
                contexts.remove(&state);
                self.sign_ins.pending.cancel(&state)
            }
            None => false,
        }
    }

    /// How many sign-ins are in progress.
    pub fn sign_ins_pending(&self) -> usize {
        self.sign_ins.pending.len()
    }

    /// Adds a machine account: client credentials with a secret or a private
    /// key, or a workload's JWT bearer grant (`request.assertion`).
    pub async fn add_machine_account(&self, request: MachineAccountRequest) -> Result<Account> {
        crate::exchanges::capture(self.add_machine_account_captured(request)).await
    }

    async fn add_machine_account_captured(
        &self,
        request: MachineAccountRequest,
    ) -> Result<Account> {
        // Read first: a source that cannot give a usable assertion costs no
        // request. An ID-JAG is asked for once the audience is known.
        let id_jag = matches!(
            request.assertion,
            Some(crate::workload::AssertionSource::IdJag(_))
        );
        let assertion = match &request.assertion {
            Some(source) if !id_jag => Some(source.read()?),
            _ => None,
        };
        if request.assertion.is_none() && request.credential.is_none() {
            return Err(Error::Invalid(
                "a machine account needs a client secret or a private key (client credentials), \
                 or a workload assertion source (JWT bearer)"
                    .into(),
            ));
        }
        let discovery = discover(
            self.http()?,
            &request.mcp_url,
            &DiscoverOptions {
                authorization_server: request.authorization_server.clone(),
                probe: request.probe.clone(),
                ..Default::default()
            },
        )
        .await?;
        let discovery_exchanges = crate::exchanges::take();
        let auth = match &request.credential {
            Some(credential) => credential_auth(&discovery.metadata, credential)?,
            None => ClientAuth::None,
        };
        let alg = signing_alg(request.credential.as_ref(), &auth);
        let client = ClientRegistration {
            dpop: self.dpop_for_sign_in(&discovery, None)?,
            ..ClientRegistration::pre_registered(&discovery.issuer, &request.client_id, auth)
        };
        let assertion = match (&request.assertion, assertion) {
            (Some(source), None) if id_jag => Some(
                self.assertion_for(
                    source,
                    &discovery.issuer,
                    &discovery.resource,
                    request.scopes.as_ref(),
                )
                .await?,
            ),
            (_, read) => read,
        };
        let tokens = match &assertion {
            Some(assertion) => {
                token::jwt_bearer(
                    self.http()?,
                    &discovery.metadata,
                    &client,
                    assertion,
                    &discovery.resource,
                    request.scopes.as_ref(),
                )
                .await?
            }
            None => {
                token::client_credentials(
                    self.http()?,
                    &discovery.metadata,
                    &client,
                    &discovery.resource,
                    request.scopes.as_ref(),
                )
                .await?
            }
        };
        self.store_new_account(NewAccount {
            discovery: &discovery,
            client: &client,
            credential: request.credential.as_ref(),
            signing_alg: alg,
            kind: AccountKind::Machine,
            name: request.name.clone(),
            requested: request.scopes.clone(),
            tokens: &tokens,
            discovery_exchanges,
            assertion_source: request.assertion.as_ref(),
            grant_holder: None,
        })
    }
}
