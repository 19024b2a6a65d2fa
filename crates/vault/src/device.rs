//! Sign-in with the device authorization grant (RFC 8628): for a terminal
//! with no browser. The person approves a user code on another device; the
//! grant is stored like a browser sign-in's (a user account, refreshed the
//! same way).

use mcpauth_core::device::DeviceAuthorization;
use mcpauth_core::device::{request_device_authorization, wait_for_device_tokens};
use mcpauth_core::discovery::{discover, DiscoverOptions, Discovery, Probe};
use mcpauth_core::registration::{obtain_client, ClientRegistration, RegistrationRequest};
use mcpauth_core::scopes::{select_scopes, Scopes};

use crate::broker::NewAccount;
use crate::error::{Error, Result};
use crate::model::{Account, AccountKind, ClientCredential};
use crate::Vault;

/// What to sign in to, with the device flow.
#[derive(Debug, Clone, Default)]
pub struct DeviceSignInRequest {
    pub mcp_url: String,
    pub name: Option<String>,
    /// Scopes to ask for; by default the challenge's, else the offered ones.
    pub scopes: Option<Scopes>,
    /// A pre-registered client (with its credential, if confidential);
    /// without one, a device client is registered dynamically.
    pub client_id: Option<String>,
    pub credential: Option<ClientCredential>,
    /// Pick this authorization server when the resource lists several.
    pub authorization_server: Option<String>,
    /// The server's 401/403 already at hand: discovery starts from its challenge.
    pub probe: Option<Probe>,
}

/// A device sign-in waiting for the person: show them `user_code` and
/// `verification_uri`, then [`Vault::finish_device_sign_in`].
#[derive(Debug)]
pub struct DeviceSignIn {
    pub authorization: DeviceAuthorization,
    /// The authorization server (its issuer), to say whose page it is.
    pub issuer: String,
    discovery: Discovery,
    client: ClientRegistration,
    credential: Option<ClientCredential>,
    name: Option<String>,
    exchanges: Vec<crate::exchanges::Exchange>,
}

impl Vault {
    /// Discovery, a client for the device grant, and the user code (RFC 8628 §3.1–3.2).
    pub async fn begin_device_sign_in(&self, request: DeviceSignInRequest) -> Result<DeviceSignIn> {
        crate::exchanges::capture(self.begin_device_sign_in_captured(request)).await
    }

    async fn begin_device_sign_in_captured(
        &self,
        request: DeviceSignInRequest,
    ) -> Result<DeviceSignIn> {
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
        if discovery.metadata.device_authorization_endpoint.is_none() {
            return Err(Error::Invalid(format!(
                "{} does not offer the device flow (its metadata has no \
                 device_authorization_endpoint); sign in with `mcpauth login --no-browser` \
                 instead, which prints a link to open anywhere and asks for the address \
                 you land on",
                discovery.issuer
            )));
        }
        let pre_registered = crate::signin::pre_registered(
            &discovery.metadata,
            request.client_id.as_ref(),
            request.credential.as_ref(),
        )?;
        if pre_registered.is_none() && discovery.metadata.registration_endpoint.is_none() {
            return Err(Error::Invalid(format!(
                "{} offers the device flow but no dynamic client registration; \
                 pass the client it registered for you with --client-id",
                discovery.issuer
            )));
        }
        // A client of the browser flow is never reused: it was not registered
        // for the device grant, and the server would refuse it.
        let mut client = obtain_client(
            self.http()?,
            &discovery.metadata,
            &RegistrationRequest {
                pre_registered,
                client_metadata_url: None,
                client_name: "MCP Auth".into(),
                redirect_uris: Vec::new(),
                scope: None,
                device_flow: true,
            },
        )
        .await?;
        client.dpop = self.dpop_for_sign_in(&discovery, None)?;
        let credential = crate::signin::kept_credential(request.credential.as_ref(), &client.auth);
        let scopes = request.scopes.clone().or_else(|| {
            select_scopes(
                discovery.challenge.as_ref(),
                discovery.resource_metadata.as_ref(),
                &discovery.metadata,
            )
        });
        let authorization = request_device_authorization(
            self.http()?,
            &discovery.metadata,
            &client,
            &discovery.resource,
            scopes.as_ref(),
        )
        .await?;
        Ok(DeviceSignIn {
            authorization,
            issuer: discovery.issuer.clone(),
            discovery,
            client,
            credential,
            name: request.name,
            exchanges: crate::exchanges::take(),
        })
    }

    /// Polls until the person approves (then stores the account), declines,
    /// or the code expires.
    pub async fn finish_device_sign_in(&self, sign_in: DeviceSignIn) -> Result<Account> {
        crate::exchanges::capture(self.finish_device_sign_in_captured(sign_in)).await
    }

    async fn finish_device_sign_in_captured(&self, sign_in: DeviceSignIn) -> Result<Account> {
        let tokens = wait_for_device_tokens(
            self.http()?,
            &sign_in.discovery.metadata,
            &sign_in.client,
            &sign_in.authorization,
        )
        .await?;
        self.store_new_account(NewAccount {
            discovery: &sign_in.discovery,
            client: &sign_in.client,
            credential: sign_in.credential.as_ref(),
            signing_alg: crate::signin::signing_alg(
                sign_in.credential.as_ref(),
                &sign_in.client.auth,
            ),
            kind: AccountKind::User,
            name: sign_in.name.clone(),
            requested: sign_in.authorization.scopes.clone(),
            tokens: &tokens,
            discovery_exchanges: sign_in.exchanges,
            assertion_source: None,
            grant_holder: None,
        })
    }
}
