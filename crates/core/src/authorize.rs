//! The authorization request (SPEC §3): PKCE S256, `state`, `resource`, scopes.

use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{Error, Result};
use crate::http::{is_loopback_host, parse_secure};
use crate::metadata::AuthorizationServerMetadata;
use crate::registration::ClientRegistration;
use crate::scopes::Scopes;
use crate::secret::{CsrfState, PkceVerifier};

/// 32 bytes from the OS CSPRNG, base64url: 43 characters.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new PKCE verifier (RFC 7636 §4.1) and its S256 challenge (§4.2).
pub fn new_pkce() -> (PkceVerifier, String) {
    let verifier = random_token();
    let challenge = pkce_challenge(&verifier);
    (PkceVerifier::new(verifier), challenge)
}

/// `BASE64URL(SHA256(verifier))`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A new `state` value.
pub fn new_state() -> CsrfState {
    CsrfState::new(random_token())
}

/// What to ask for in an authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// RFC 8707 `resource`, sent again unchanged in the token request; empty
    /// (and not sent) for a sign-in at an identity provider (SEP-990).
    pub resource: String,
    pub scopes: Option<Scopes>,
    pub redirect_uri: String,
    /// `prompt`; defaults to `consent` when `offline_access` is asked for (OIDC Core §11).
    pub prompt: Option<String>,
}

/// Everything needed to finish a sign-in, bound to its `state` (SPEC §3.2).
/// Not `Clone`: the verifier is single use.
#[derive(Debug)]
pub struct PendingAuthorization {
    pub state: CsrfState,
    pub(crate) verifier: PkceVerifier,
    /// The issuer the request went to; the response's `iss` must equal it.
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Option<Scopes>,
    pub resource: String,
    /// The server promised `iss` in the response (RFC 9207).
    pub iss_required: bool,
    pub created_at: Instant,
}

impl PendingAuthorization {
    /// The PKCE verifier, for the code exchange.
    pub fn verifier(&self) -> &PkceVerifier {
        &self.verifier
    }
}

/// The longest authorization URL sent to a browser (many servers refuse longer
/// request lines; a hostile challenge can ask for megabytes of scopes).
pub const MAX_AUTHORIZATION_URL_LEN: usize = 8 * 1024;

/// Builds the authorization URL and the pending state to complete it.
pub fn start_authorization(
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    request: &AuthorizationRequest,
) -> Result<(Url, PendingAuthorization)> {
    client.ensure_issuer(&metadata.issuer)?;
    if !metadata.supports_s256() {
        return Err(Error::PkceNotSupported {
            issuer: metadata.issuer.clone(),
            advertised: format!("{:?}", metadata.code_challenge_methods_supported),
        });
    }
    let mut url = parse_secure("authorization endpoint", &metadata.authorization_endpoint)?;
    let (verifier, challenge) = new_pkce();
    let state = new_state();
    let scopes = request.scopes.clone().filter(|s| !s.is_empty());
    let prompt = request.prompt.clone().or_else(|| {
        scopes
            .as_ref()
            .filter(|s| s.contains("offline_access"))
            .map(|_| "consent".to_string())
    });
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", &request.redirect_uri)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", state.secret());
        // Empty for an OpenID sign-in at an identity provider (SEP-990),
        // which asks for an ID token about the user, not for a resource.
        if !request.resource.is_empty() {
            q.append_pair("resource", &request.resource);
        }
        if let Some(scopes) = &scopes {
            q.append_pair("scope", &scopes.to_string());
        }
        if let Some(prompt) = &prompt {
            q.append_pair("prompt", prompt);
        }
    }
    if url.as_str().len() > MAX_AUTHORIZATION_URL_LEN {
        return Err(Error::UnsafeBrowserUrl {
            url: format!("{}…", url.as_str().get(..80).unwrap_or_default()),
            reason: format!(
                "the authorization request would be {} bytes long, over the {MAX_AUTHORIZATION_URL_LEN}-byte \
                 limit browsers and servers accept; the scopes asked for ({} characters) are too long: \
                 ask for fewer scopes",
                url.as_str().len(),
                scopes.as_ref().map(|s| s.to_string().len()).unwrap_or(0)
            ),
        });
    }
    let pending = PendingAuthorization {
        state,
        verifier,
        issuer: metadata.issuer.clone(),
        client_id: client.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scopes,
        resource: request.resource.clone(),
        iss_required: metadata.authorization_response_iss_parameter_supported,
        created_at: Instant::now(),
    };
    Ok((url, pending))
}

/// Re-authorization for the union of the current and the added scopes (SPEC §4.4).
pub fn reauthorize_with_scopes(
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    request: &AuthorizationRequest,
    current: &Scopes,
    added: &Scopes,
) -> Result<(Url, PendingAuthorization)> {
    let union = current
        .union(added)
        .union(request.scopes.as_ref().unwrap_or(&Scopes::default()));
    let request = AuthorizationRequest {
        scopes: Some(union),
        ..request.clone()
    };
    start_authorization(metadata, client, &request)
}

/// SPEC §3.7: only `https:`, or `http:` on loopback, goes to the browser.
pub fn check_browser_url(url: &Url) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(url) => Ok(()),
        other => Err(Error::UnsafeBrowserUrl {
            url: url.to_string(),
            reason: format!("a `{other}:` URL is neither https nor loopback http"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registration::{ClientAuth, RegistrationKind};

    #[test]
    fn pkce_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let (v, c) = new_pkce();
        assert_eq!(v.secret().len(), 43);
        assert_eq!(pkce_challenge(v.secret()), c);
        assert_ne!(new_state().secret(), new_state().secret());
    }

    #[test]
    fn url_has_every_parameter() {
        let mut m = AuthorizationServerMetadata::legacy_defaults("https://as.example");
        m.authorization_response_iss_parameter_supported = true;
        let client = ClientRegistration {
            issuer: "https://as.example".into(),
            client_id: "cid".into(),
            kind: RegistrationKind::PreRegistered,
            auth: ClientAuth::None,
            redirect_uris: vec![],
            registration_access_token: None,
            client_secret_expires_at: None,
            dpop: None,
        };
        let request = AuthorizationRequest {
            resource: "https://mcp.example".into(),
            scopes: Some(Scopes::parse("a offline_access")),
            redirect_uri: "http://127.0.0.1:5/callback".into(),
            prompt: None,
        };
        let (url, pending) = start_authorization(&m, &client, &request).expect("builds");
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["resource"], "https://mcp.example");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(
            q["code_challenge"],
            pkce_challenge(pending.verifier().secret())
        );
        assert_eq!(q["state"], pending.state.secret());
        assert_eq!(q["scope"], "a offline_access");
        assert_eq!(q["prompt"], "consent");
        assert!(pending.iss_required);

        let (url, pending) = reauthorize_with_scopes(
            &m,
            &client,
            &request,
            &Scopes::parse("a"),
            &Scopes::parse("b"),
        )
        .expect("builds");
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["scope"], "a b offline_access");
        assert_eq!(
            pending.scopes.map(|s| s.to_string()),
            Some("a b offline_access".into())
        );

        let other = ClientRegistration {
            issuer: "https://other.example".into(),
            ..client
        };
        assert!(start_authorization(&m, &other, &request).is_err());
    }

    #[test]
    fn browser_urls() {
        let ok = |s: &str| check_browser_url(&Url::parse(s).expect("url")).is_ok();
        assert!(ok("https://as.example/auth"));
        assert!(ok("http://127.0.0.1:9/auth"));
        assert!(!ok("http://as.example/auth"));
        assert!(!ok("file:///etc/passwd"));
        assert!(!ok("javascript:alert(1)"));
    }
}
