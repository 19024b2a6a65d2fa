//! Getting a client identity (SPEC §2): pre-registered, Client ID Metadata
//! Document, Dynamic Client Registration (RFC 7591), in that order.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, OAuthErrorResponse, Result};
use crate::http::{parse_json, parse_secure, parse_url, refuse_redirect, HttpClient, HttpRequest};
use crate::jwt::SigningKey;
use crate::metadata::AuthorizationServerMetadata;
use crate::scopes::Scopes;
use crate::secret::{ClientSecret, RegistrationAccessToken};

/// How the client identity was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationKind {
    PreRegistered,
    MetadataDocument,
    Dynamic,
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2).
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// A public client: `client_id` in the body only.
    None,
    /// `client_secret_basic`.
    SecretBasic(ClientSecret),
    /// `client_secret_post`.
    SecretPost(ClientSecret),
    /// `private_key_jwt`.
    PrivateKeyJwt(Arc<SigningKey>),
}

impl ClientAuth {
    /// The RFC 7591 name of the method.
    pub fn method_name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::SecretBasic(_) => "client_secret_basic",
            Self::SecretPost(_) => "client_secret_post",
            Self::PrivateKeyJwt(_) => "private_key_jwt",
        }
    }

    /// A client secret used the way the server prefers: basic unless it lists only post.
    pub fn secret_for(metadata: &AuthorizationServerMetadata, secret: ClientSecret) -> Self {
        let methods = metadata.token_endpoint_auth_methods_supported.as_deref();
        let basic_ok = methods.is_none_or(|m| m.iter().any(|x| x == "client_secret_basic"));
        let post_ok = methods.is_some_and(|m| m.iter().any(|x| x == "client_secret_post"));
        if !basic_ok && post_ok {
            Self::SecretPost(secret)
        } else {
            Self::SecretBasic(secret)
        }
    }

    /// True for a confidential client.
    pub fn is_confidential(&self) -> bool {
        !matches!(self, Self::None)
    }
}

/// A client identity, bound to the authorization server that issued or accepts it.
#[derive(Debug, Clone)]
pub struct ClientRegistration {
    /// The issuer this client belongs to (SPEC §2.4).
    pub issuer: String,
    pub client_id: String,
    pub kind: RegistrationKind,
    pub auth: ClientAuth,
    pub redirect_uris: Vec<String>,
    pub registration_access_token: Option<RegistrationAccessToken>,
    pub client_secret_expires_at: Option<u64>,
    /// The account's DPoP key (RFC 9449): every token request carries a proof
    /// of it, and the tokens come back bound to it. `None`: Bearer tokens.
    pub dpop: Option<std::sync::Arc<crate::dpop::DpopKey>>,
}

impl ClientRegistration {
    /// A client registered by hand with `issuer`.
    pub fn pre_registered(issuer: &str, client_id: &str, auth: ClientAuth) -> Self {
        Self {
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            kind: RegistrationKind::PreRegistered,
            auth,
            redirect_uris: Vec::new(),
            registration_access_token: None,
            client_secret_expires_at: None,
            dpop: None,
        }
    }

    /// Refuses to use this client with another authorization server (SPEC §2.4).
    pub fn ensure_issuer(&self, issuer: &str) -> Result<()> {
        if self.issuer == issuer {
            Ok(())
        } else {
            Err(Error::ClientIssuerMismatch {
                client_id: self.client_id.clone(),
                registered_with: self.issuer.clone(),
                issuer: issuer.to_string(),
            })
        }
    }
}

/// A client the user registered by hand with one authorization server.
#[derive(Debug, Clone)]
pub struct PreRegisteredClient {
    pub client_id: String,
    pub auth: ClientAuth,
}

/// What to register, and the identities already at hand.
#[derive(Debug, Clone)]
pub struct RegistrationRequest {
    /// A client registered by hand for this issuer.
    pub pre_registered: Option<PreRegisteredClient>,
    /// The HTTPS URL of our Client ID Metadata Document.
    pub client_metadata_url: Option<String>,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub scope: Option<Scopes>,
    /// A client for the device authorization grant (RFC 8628): no redirect
    /// URIs, no response types, the device code and refresh token grants.
    pub device_flow: bool,
}

/// The URL at which the MCP Auth project publishes its client metadata document.
pub const DEFAULT_CLIENT_METADATA_URL: &str = "https://mcpauth.dev/oauth/client-metadata.json";

/// SPEC §2 priority: pre-registered, then Client ID Metadata Document, then dynamic registration.
pub async fn obtain_client(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    request: &RegistrationRequest,
) -> Result<ClientRegistration> {
    if let Some(pre) = &request.pre_registered {
        return Ok(ClientRegistration {
            redirect_uris: request.redirect_uris.clone(),
            ..ClientRegistration::pre_registered(&metadata.issuer, &pre.client_id, pre.auth.clone())
        });
    }
    if metadata.client_id_metadata_document_supported {
        if let Some(url) = &request.client_metadata_url {
            let url = check_client_metadata_url(url)?;
            return Ok(ClientRegistration {
                issuer: metadata.issuer.clone(),
                client_id: url.to_string(),
                kind: RegistrationKind::MetadataDocument,
                auth: ClientAuth::None,
                redirect_uris: request.redirect_uris.clone(),
                registration_access_token: None,
                client_secret_expires_at: None,
                dpop: None,
            });
        }
    }
    if metadata.registration_endpoint.is_some() {
        return register_dynamic(http, metadata, request).await;
    }
    Err(Error::NoClientIdentity {
        issuer: metadata.issuer.clone(),
    })
}

/// A Client ID Metadata Document URL must be https with a path (draft §3).
pub fn check_client_metadata_url(input: &str) -> Result<Url> {
    let bad = |reason: &str| Error::InvalidClientMetadataUrl {
        url: input.to_string(),
        reason: reason.to_string(),
    };
    // The parser resolves dot segments, so look at the text as given.
    let raw_path = input.split(['?', '#']).next().unwrap_or_default();
    if raw_path
        .split('/')
        .skip(3)
        .any(|seg| seg == "." || seg == "..")
    {
        return Err(bad("it must not contain . or .. path segments"));
    }
    let url = parse_url(input)?;
    if url.scheme() != "https" {
        return Err(bad("it must be an https URL"));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(bad("it must have a path, such as /client-metadata.json"));
    }
    if url.fragment().is_some() || url.username() != "" || url.password().is_some() {
        return Err(bad("it must have no fragment and no credentials"));
    }
    Ok(url)
}

/// RFC 8252 §8.4: native apps with loopback or private-use-scheme redirects.
fn is_native_redirect(uri: &str) -> bool {
    match Url::parse(uri) {
        Ok(u) if u.scheme() == "http" => crate::http::is_loopback_host(&u),
        Ok(u) => u.scheme() != "https",
        Err(_) => false,
    }
}

#[derive(Deserialize)]
struct RegistrationResponse {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    client_secret_expires_at: Option<u64>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    registration_access_token: Option<String>,
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
}

/// Fields of our registration request that a server may refuse and we can do without.
const OPTIONAL_FIELDS: [&str; 4] = ["scope", "application_type", "client_uri", "software_id"];

/// RFC 7591 dynamic registration of a public native client; retried once without
/// an optional field the server's error names.
pub async fn register_dynamic(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    request: &RegistrationRequest,
) -> Result<ClientRegistration> {
    let endpoint = metadata
        .registration_endpoint
        .as_deref()
        .ok_or(Error::MissingEndpoint {
            issuer: metadata.issuer.clone(),
            endpoint: "registration_endpoint",
        })?;
    let url = parse_secure("registration endpoint", endpoint)?;
    let mut body = serde_json::json!({
        "client_name": request.client_name,
        "redirect_uris": request.redirect_uris,
        "grant_types": if request.device_flow {
            [crate::device::DEVICE_CODE_GRANT, "refresh_token"]
        } else {
            ["authorization_code", "refresh_token"]
        },
        "response_types": if request.device_flow { &[][..] } else { &["code"][..] },
        "token_endpoint_auth_method": "none",
        "software_id": "dev.mcpauth",
        "client_uri": "https://mcpauth.dev",
    });
    if request.device_flow || request.redirect_uris.iter().all(|u| is_native_redirect(u)) {
        body["application_type"] = "native".into();
    }
    if let Some(scope) = request.scope.as_ref().filter(|s| !s.is_empty()) {
        body["scope"] = scope.to_string().into();
    }
    let mut retried = false;
    loop {
        let response = http
            .send(HttpRequest::post_json(url.clone(), &body))
            .await?;
        refuse_redirect(&url, &response)?;
        if response.is_success() {
            let parsed: RegistrationResponse =
                parse_json(&url, "client registration response", &response.body)?;
            return Ok(registration_from(metadata, request, parsed));
        }
        let error: OAuthErrorResponse = match serde_json::from_slice(&response.body) {
            Ok(e) => e,
            Err(_) => {
                return Err(Error::HttpStatus {
                    url: url.to_string(),
                    status: response.status,
                    what: "to the client registration request",
                })
            }
        };
        let description = error.error_description.clone().unwrap_or_default();
        let named: Vec<&str> = OPTIONAL_FIELDS
            .iter()
            .copied()
            .filter(|f| description.contains(f) && body.get(*f).is_some())
            .collect();
        if retried || named.is_empty() {
            return Err(Error::RegistrationRefused {
                url: url.to_string(),
                response: error,
            });
        }
        tracing::info!(fields = ?named, "registration refused optional metadata; retrying once without it");
        if let Some(map) = body.as_object_mut() {
            for field in named {
                map.remove(field);
            }
        }
        retried = true;
    }
}

fn registration_from(
    metadata: &AuthorizationServerMetadata,
    request: &RegistrationRequest,
    parsed: RegistrationResponse,
) -> ClientRegistration {
    let auth = match (
        parsed.client_secret,
        parsed.token_endpoint_auth_method.as_deref(),
    ) {
        (Some(secret), Some("client_secret_post")) => {
            ClientAuth::SecretPost(ClientSecret::new(secret))
        }
        (Some(secret), _) => ClientAuth::SecretBasic(ClientSecret::new(secret)),
        (None, _) => ClientAuth::None,
    };
    ClientRegistration {
        issuer: metadata.issuer.clone(),
        client_id: parsed.client_id,
        kind: RegistrationKind::Dynamic,
        auth,
        redirect_uris: parsed
            .redirect_uris
            .unwrap_or_else(|| request.redirect_uris.clone()),
        registration_access_token: parsed
            .registration_access_token
            .map(RegistrationAccessToken::new),
        client_secret_expires_at: parsed.client_secret_expires_at.filter(|&t| t != 0),
        dpop: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_url_rules() {
        assert!(check_client_metadata_url("https://app.example/client.json").is_ok());
        for bad in [
            "http://app.example/client.json",
            "https://app.example/",
            "https://app.example",
            "https://app.example/a#b",
            "https://u:p@app.example/c",
            "https://app.example/a/../c",
        ] {
            assert!(check_client_metadata_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_method_follows_the_server() {
        let mut m = AuthorizationServerMetadata::legacy_defaults("https://as.example");
        let s = || ClientSecret::new("s");
        assert_eq!(
            ClientAuth::secret_for(&m, s()).method_name(),
            "client_secret_basic"
        );
        m.token_endpoint_auth_methods_supported = Some(vec!["client_secret_post".into()]);
        assert_eq!(
            ClientAuth::secret_for(&m, s()).method_name(),
            "client_secret_post"
        );
    }

    #[test]
    fn native_redirects() {
        assert!(is_native_redirect("http://127.0.0.1:3000/callback"));
        assert!(is_native_redirect("mcpauth://oauth/callback"));
        assert!(!is_native_redirect("https://app.example/cb"));
        assert!(!is_native_redirect("http://example.com/cb"));
    }

    #[test]
    fn binding_to_issuer() {
        let reg = ClientRegistration {
            issuer: "https://a.example".into(),
            client_id: "c".into(),
            kind: RegistrationKind::Dynamic,
            auth: ClientAuth::None,
            redirect_uris: vec![],
            registration_access_token: None,
            client_secret_expires_at: None,
            dpop: None,
        };
        assert!(reg.ensure_issuer("https://a.example").is_ok());
        assert!(matches!(
            reg.ensure_issuer("https://b.example"),
            Err(Error::ClientIssuerMismatch { .. })
        ));
    }
}
