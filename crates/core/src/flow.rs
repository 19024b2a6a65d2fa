//! Steps that chain the protocol pieces where the order is itself a safety
//! property: a code leaves the process only after its response was validated.

use crate::callback::{CallbackParams, PendingStore};
use crate::error::Result;
use crate::metadata::AuthorizationServerMetadata;
use crate::registration::ClientRegistration;
use crate::scopes::Scopes;
use crate::token::{exchange_code, TokenResponse};

/// A finished sign-in.
#[derive(Debug)]
pub struct CompletedAuthorization {
    pub tokens: TokenResponse,
    /// The `resource` the tokens were requested for.
    pub resource: String,
    /// The scopes that were asked for.
    pub requested_scopes: Option<Scopes>,
}

/// Matches the response to its pending sign-in (state, then `iss`, then error)
/// and only then exchanges the code (SPEC §3.2, §3.5).
pub async fn finish_authorization(
    http: &dyn crate::http::HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    store: &PendingStore,
    params: CallbackParams,
) -> Result<CompletedAuthorization> {
    let (pending, code) = store.complete(params)?;
    let resource = pending.resource.clone();
    let requested_scopes = pending.scopes.clone();
    let tokens = exchange_code(http, metadata, client, pending, code).await?;
    Ok(CompletedAuthorization {
        tokens,
        resource,
        requested_scopes,
    })
}
