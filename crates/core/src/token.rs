//! Token endpoint requests (SPEC §4): code exchange, refresh (optionally with a
//! wider scope), client credentials, revocation (RFC 7009) and introspection
//! (RFC 7662).

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Deserializer};

use crate::authorize::PendingAuthorization;
use crate::error::{Error, OAuthErrorResponse, Result};
use crate::http::{
    parse_json, parse_secure, refuse_redirect, HttpClient, HttpRequest, HttpResponse,
};
use crate::metadata::AuthorizationServerMetadata;
use crate::registration::{ClientAuth, ClientRegistration};
use crate::scopes::Scopes;
use crate::secret::{AccessToken, AuthorizationCode, IdToken, RefreshToken};

/// The longest lifetime believed from `expires_in`; anything larger is clamped.
pub const MAX_EXPIRES_IN: u64 = 10 * 365 * 24 * 3600;

/// The lifetime assumed for an access token whose response has no
/// `expires_in` and that is not a JWT with an `exp` claim (RFC 6749 §5.1 lets
/// the server leave the lifetime out; "never expires" is the wrong reading).
pub const ASSUMED_LIFETIME_SECS: u64 = 3600;

/// Where a token's lifetime came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpirySource {
    /// The response's `expires_in`.
    ExpiresIn,
    /// No `expires_in`; the access token is a JWT and its `exp` claim says.
    JwtExp,
    /// Neither: [`ASSUMED_LIFETIME_SECS`].
    Assumed,
}

/// A successful token response (RFC 6749 §5.1), secrets wrapped.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    /// `Bearer`, or `DPoP` for a token bound to the client's DPoP key (RFC
    /// 9449 §5), which must be sent with a proof of that key.
    pub token_type: String,
    /// The lifetime in seconds: `expires_in` as sent after clamping, else
    /// from the JWT's `exp`, else assumed ([`Self::expiry_source`] says which).
    pub expires_in: Option<u64>,
    pub expiry_source: ExpirySource,
    /// The absolute expiry computed when the response arrived.
    pub expires_at: Option<SystemTime>,
    pub refresh_token: Option<RefreshToken>,
    /// Granted scopes: the response's `scope`, or what was requested when it is absent.
    pub scopes: Option<Scopes>,
    /// True when the server said which scopes it granted.
    pub scope_returned: bool,
    pub id_token: Option<IdToken>,
}

impl TokenResponse {
    /// True when the token expires within `skew` of `now` (or has no known expiry: false).
    pub fn expires_within(&self, skew: Duration, now: SystemTime) -> bool {
        self.expires_at
            .is_some_and(|at| at <= now.checked_add(skew).unwrap_or(now))
    }
}

#[derive(Deserialize)]
struct RawTokenResponse {
    access_token: String,
    token_type: String,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<i64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

/// `expires_in` as a number, or a string holding one (SPEC §4.1).
pub(crate) fn lenient_seconds<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Int(i64),
        Float(f64),
        Text(String),
        Null,
    }
    match Lenient::deserialize(d)? {
        Lenient::Int(n) => Ok(Some(n)),
        Lenient::Float(f) if f.is_finite() => {
            Ok(Some(f.clamp(i64::MIN as f64, i64::MAX as f64) as i64))
        }
        Lenient::Float(_) => Err(serde::de::Error::custom(
            "expires_in is not a finite number",
        )),
        Lenient::Text(s) => s.trim().parse::<i64>().map(Some).map_err(|_| {
            serde::de::Error::custom("expires_in is a string that is not a whole number of seconds")
        }),
        Lenient::Null => Ok(None),
    }
}

fn token_response_from(
    url: &url::Url,
    raw: RawTokenResponse,
    requested: Option<&Scopes>,
    dpop: bool,
) -> Result<TokenResponse> {
    // A DPoP-bound token only when we sent a proof: a server that binds a
    // token to a key we never showed it has answered someone else.
    let bound = dpop && raw.token_type.eq_ignore_ascii_case(crate::dpop::SCHEME);
    if !bound && !raw.token_type.eq_ignore_ascii_case("bearer") {
        // Named only when it looks like a token type (`DPoP`, `mac`): the
        // server's text could be anything, its own tokens included.
        let tokens = [
            Some(raw.access_token.as_str()),
            raw.refresh_token.as_deref(),
            raw.id_token.as_deref(),
        ];
        let named = raw.token_type.len() <= 24
            && raw
                .token_type
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !tokens.into_iter().flatten().any(|t| {
                !t.is_empty() && (t.contains(&raw.token_type) || raw.token_type.contains(t))
            });
        return Err(Error::InvalidTokenResponse {
            url: url.to_string(),
            reason: if named {
                format!(
                    "token_type `{}` is not supported; MCP uses Bearer tokens",
                    raw.token_type
                )
            } else {
                "the token_type is not Bearer; MCP uses Bearer tokens".into()
            },
        });
    }
    if raw.access_token.is_empty() {
        return Err(Error::InvalidTokenResponse {
            url: url.to_string(),
            reason: "access_token is empty".into(),
        });
    }
    let now = SystemTime::now();
    // A negative lifetime means already expired; a huge one is clamped.
    let (lifetime, expiry_source) = match raw.expires_in {
        Some(seconds) => (seconds, ExpirySource::ExpiresIn),
        None => match jwt_exp(&raw.access_token) {
            Some(exp) => {
                let unix_now = now
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                (exp.saturating_sub(unix_now), ExpirySource::JwtExp)
            }
            None => (ASSUMED_LIFETIME_SECS as i64, ExpirySource::Assumed),
        },
    };
    let expires_in = Some(lifetime.clamp(0, MAX_EXPIRES_IN as i64) as u64);
    let scope_returned = raw.scope.is_some();
    Ok(TokenResponse {
        access_token: AccessToken::new(raw.access_token),
        token_type: if bound { crate::dpop::SCHEME } else { "Bearer" }.into(),
        expires_in,
        expiry_source,
        expires_at: expires_in.map(|s| now + Duration::from_secs(s)),
        refresh_token: raw
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(RefreshToken::new),
        scopes: raw
            .scope
            .as_deref()
            .map(Scopes::parse)
            .or_else(|| requested.cloned()),
        scope_returned,
        id_token: raw.id_token.map(IdToken::new),
    })
}

/// The `exp` claim of a JWT access token, read without verifying it: the
/// token is the resource server's to check; only its lifetime is wanted here.
/// None for an opaque token or a JWT without a numeric `exp`.
fn jwt_exp(token: &str) -> Option<i64> {
    let claims = crate::jwt::unverified_claims(token)?;
    match claims.get("exp")? {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` encoding of a client id or secret before
/// Base64 (RFC 6749 §2.3.1).
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Adds client authentication to a token-endpoint-style request.
fn authenticate(
    client: &ClientRegistration,
    metadata: &AuthorizationServerMetadata,
    fields: &mut Vec<(&'static str, String)>,
    headers: &mut Vec<(String, String)>,
) -> Result<()> {
    match &client.auth {
        ClientAuth::None => fields.push(("client_id", client.client_id.clone())),
        ClientAuth::SecretBasic(secret) => {
            let credentials = format!(
                "{}:{}",
                form_encode(&client.client_id),
                form_encode(secret.secret())
            );
            headers.push((
                "authorization".into(),
                format!("Basic {}", STANDARD.encode(credentials)),
            ));
        }
        ClientAuth::SecretPost(secret) => {
            fields.push(("client_id", client.client_id.clone()));
            fields.push(("client_secret", secret.secret().to_string()));
        }
        ClientAuth::PrivateKeyJwt(key) => {
            let assertion = key.client_assertion(&client.client_id, &metadata.issuer)?;
            fields.push(("client_id", client.client_id.clone()));
            fields.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ));
            fields.push(("client_assertion", assertion));
        }
    }
    Ok(())
}

pub(crate) async fn post_authenticated(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    what: &'static str,
    endpoint: &str,
    mut fields: Vec<(&'static str, String)>,
    mut headers: Vec<(String, String)>,
) -> Result<(url::Url, HttpResponse, Sent)> {
    client.ensure_issuer(&metadata.issuer)?;
    let url = parse_secure(what, endpoint)?;
    authenticate(client, metadata, &mut fields, &mut headers)?;
    let mut sent = Sent(
        fields
            .iter()
            .filter(|(k, _)| SECRET_FIELDS.contains(k))
            .map(|(_, v)| v.clone())
            .collect(),
    );
    if let ClientAuth::SecretBasic(secret) = &client.auth {
        sent.0.push(secret.secret().to_string());
        // The Base64 credentials too, should a server echo the header back.
        sent.0.extend(
            headers
                .iter()
                .filter(|(k, _)| k == "authorization")
                .map(|(_, v)| v.trim_start_matches("Basic ").to_string()),
        );
    }
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut request = HttpRequest::post_form(url.clone(), &pairs);
    request.headers.extend(headers);
    let response = http.send(request).await.map_err(|e| sent.scrub(e))?;
    refuse_redirect(&url, &response).map_err(|e| sent.scrub(e))?;
    Ok((url, response, sent))
}

/// The form fields that carry secrets.
const SECRET_FIELDS: [&str; 9] = [
    "refresh_token",
    "subject_token",
    "code",
    "device_code",
    "code_verifier",
    "client_secret",
    "client_assertion",
    "assertion",
    "token",
];

/// The secrets one request carried, to keep them out of its errors.
pub(crate) struct Sent(Vec<String>);

impl Sent {
    pub(crate) fn scrub(&self, error: Error) -> Error {
        let secrets: Vec<&str> = self.0.iter().map(String::as_str).collect();
        error.scrub(&secrets)
    }
}

impl Drop for Sent {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.0.zeroize();
    }
}

pub(crate) async fn token_request(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    grant: &'static str,
    fields: Vec<(&'static str, String)>,
    requested: Option<&Scopes>,
) -> Result<TokenResponse> {
    // With a DPoP key, every attempt carries a fresh proof (RFC 9449 §5), and
    // a `use_dpop_nonce` refusal is answered once with the server's nonce
    // (§8); the code, refresh token or assertion was not spent by it.
    let mut nonce: Option<String> = None;
    let (url, response, sent) = loop {
        let mut headers = Vec::new();
        if let Some(key) = &client.dpop {
            let endpoint = parse_secure("token endpoint", &metadata.token_endpoint)?;
            headers.push((
                "dpop".to_string(),
                key.proof("POST", &endpoint, None, nonce.as_deref())?,
            ));
        }
        let (url, response, sent) = post_authenticated(
            http,
            metadata,
            client,
            "token endpoint",
            &metadata.token_endpoint,
            fields.clone(),
            headers,
        )
        .await?;
        match dpop_nonce_asked(client, &response) {
            Some(fresh) if nonce.is_none() => {
                tracing::info!(
                    grant,
                    "the token endpoint asked for a DPoP nonce; sending the proof again with it"
                );
                nonce = Some(fresh);
            }
            _ => break (url, response, sent),
        }
    };
    let mut tokens = token_answer(&url, &response, grant, requested, client.dpop.is_some())
        .map_err(|e| sent.scrub(e))?;
    // A granted scope that repeats a secret we sent is not a scope: drop it
    // rather than store and show it.
    if let Some(scopes) = tokens.scopes.as_mut().filter(|_| tokens.scope_returned) {
        let keep: Vec<String> = scopes
            .iter()
            .filter(|scope| {
                !sent
                    .0
                    .iter()
                    .any(|s| s.len() >= 8 && scope.contains(s.as_str()))
            })
            .map(str::to_string)
            .collect();
        *scopes = Scopes::parse(&keep.join(" "));
    }
    Ok(tokens)
}

/// The nonce of a `use_dpop_nonce` refusal (RFC 9449 §8): a 400 whose OAuth
/// error says so, with a well-formed `DPoP-Nonce` header. Only for a request
/// that carried a proof.
fn dpop_nonce_asked(client: &ClientRegistration, response: &HttpResponse) -> Option<String> {
    client.dpop.as_ref()?;
    if response.status != 400 {
        return None;
    }
    let error: OAuthErrorResponse = serde_json::from_slice(&response.body).ok()?;
    if error.error != crate::dpop::USE_NONCE {
        return None;
    }
    response
        .header(crate::dpop::NONCE_HEADER)
        .map(str::trim)
        .filter(|n| crate::dpop::valid_nonce(n))
        .map(str::to_string)
}

/// Reads the token endpoint's answer: tokens, busy, or an OAuth error.
fn token_answer(
    url: &url::Url,
    response: &HttpResponse,
    grant: &'static str,
    requested: Option<&Scopes>,
    dpop: bool,
) -> Result<TokenResponse> {
    if response.is_success() {
        let raw: RawTokenResponse = parse_json(url, "token response", &response.body)?;
        return token_response_from(url, raw, requested, dpop);
    }
    if matches!(response.status, 429 | 503) {
        return Err(Error::ServerBusy {
            url: url.to_string(),
            status: response.status,
            // Only the delta-seconds form; an HTTP date is rare on token endpoints.
            retry_after: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok()),
        });
    }
    Err(refusal(
        url,
        response,
        grant,
        "from the token endpoint without an OAuth error",
    ))
}

/// An error answer of the token or device authorization endpoint: its OAuth
/// error (RFC 6749 §5.2) when it has one, else the status alone (`what`).
pub(crate) fn refusal(
    url: &url::Url,
    response: &HttpResponse,
    grant: &'static str,
    what: &'static str,
) -> Error {
    match serde_json::from_slice::<OAuthErrorResponse>(&response.body) {
        Ok(error) => Error::TokenRefused {
            grant,
            status: response.status,
            response: error,
        },
        Err(_) => Error::HttpStatus {
            url: url.to_string(),
            status: response.status,
            what,
        },
    }
}

/// Exchanges an authorization code (RFC 6749 §4.1.3) with the verifier and the
/// same `resource` as the authorization request (SPEC §3.3).
pub async fn exchange_code(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    pending: PendingAuthorization,
    code: AuthorizationCode,
) -> Result<TokenResponse> {
    if pending.issuer != metadata.issuer {
        return Err(Error::ClientIssuerMismatch {
            client_id: pending.client_id.clone(),
            registered_with: pending.issuer.clone(),
            issuer: metadata.issuer.clone(),
        });
    }
    let mut fields = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code.secret().to_string()),
        ("redirect_uri", pending.redirect_uri.clone()),
        ("code_verifier", pending.verifier().secret().to_string()),
    ];
    if !pending.resource.is_empty() {
        fields.push(("resource", pending.resource.clone()));
    }
    token_request(
        http,
        metadata,
        client,
        "authorization_code",
        fields,
        pending.scopes.as_ref(),
    )
    .await
}

/// Refreshes (RFC 6749 §6) with `resource`, optionally asking for `scope`
/// (a wider set is the incremental upgrade of SPEC §4.4). Without a new
/// refresh token in the answer, the old one stays valid.
pub async fn refresh(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    refresh_token: &RefreshToken,
    resource: &str,
    scope: Option<&Scopes>,
) -> Result<TokenResponse> {
    let mut fields = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", refresh_token.secret().to_string()),
    ];
    // Empty for the sign-in at an identity provider (SEP-990), which has none.
    if !resource.is_empty() {
        fields.push(("resource", resource.to_string()));
    }
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        fields.push(("scope", scope.to_string()));
    }
    token_request(http, metadata, client, "refresh_token", fields, scope).await
}

/// The client credentials grant (RFC 6749 §4.4) for a confidential client.
pub async fn client_credentials(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    resource: &str,
    scope: Option<&Scopes>,
) -> Result<TokenResponse> {
    if !client.auth.is_confidential() {
        return Err(Error::InvalidKey {
            reason: "the client credentials grant needs a client secret or a private key".into(),
        });
    }
    let mut fields = vec![
        ("grant_type", "client_credentials".to_string()),
        ("resource", resource.to_string()),
    ];
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        fields.push(("scope", scope.to_string()));
    }
    token_request(http, metadata, client, "client_credentials", fields, scope).await
}

/// The JWT bearer grant type (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The JWT bearer grant (RFC 7523 §2.1): `assertion` is the grant, a JWT
/// another party issued (a workload's platform, SEP-1933). The client
/// authenticates as registered, often not at all (`none`: `client_id` in the
/// body). Refused before sending when the server's metadata lists its grant
/// types without this one.
pub async fn jwt_bearer(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    assertion: &crate::secret::Assertion,
    resource: &str,
    scope: Option<&Scopes>,
) -> Result<TokenResponse> {
    metadata.ensure_grant_offered(JWT_BEARER_GRANT, "JWT bearer (RFC 7523)")?;
    let mut fields = vec![
        ("grant_type", JWT_BEARER_GRANT.to_string()),
        ("assertion", assertion.secret().to_string()),
        ("resource", resource.to_string()),
    ];
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        fields.push(("scope", scope.to_string()));
    }
    token_request(http, metadata, client, "jwt_bearer", fields, scope).await
}

/// The outcome of an upgrade attempt by refresh (SPEC §4.4).
#[derive(Debug)]
pub enum RefreshUpgrade {
    /// The server granted at least the wanted scopes.
    Granted(TokenResponse),
    /// The server refused or granted less: run a new authorization for `wanted`.
    /// A token the server did issue is returned so it is not lost.
    NeedsReauthorization {
        wanted: Scopes,
        issued: Option<TokenResponse>,
        reason: String,
    },
}

/// Tries refresh with the union of current and added scopes; says when a new
/// authorization is needed instead (SPEC §4.4).
pub async fn upgrade_by_refresh(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    refresh_token: &RefreshToken,
    resource: &str,
    current: &Scopes,
    added: &Scopes,
) -> Result<RefreshUpgrade> {
    let wanted = current.union(added);
    match refresh(
        http,
        metadata,
        client,
        refresh_token,
        resource,
        Some(&wanted),
    )
    .await
    {
        Ok(response) => {
            let granted = response.scopes.clone().unwrap_or_default();
            if granted.is_superset(&wanted) {
                Ok(RefreshUpgrade::Granted(response))
            } else {
                let missing = wanted.missing_from(&granted);
                Ok(RefreshUpgrade::NeedsReauthorization {
                    wanted,
                    issued: Some(response),
                    reason: format!("the refresh granted less than asked (missing {missing})"),
                })
            }
        }
        Err(Error::TokenRefused { response, .. }) if response.error == "invalid_scope" => {
            Ok(RefreshUpgrade::NeedsReauthorization {
                wanted,
                issued: None,
                reason: format!(
                    "the authorization server refused the wider scope on refresh ({response})"
                ),
            })
        }
        Err(e) => Err(e),
    }
}

/// Which token to revoke (RFC 7009 §2.1 `token_type_hint`).
#[derive(Debug, Clone, Copy)]
pub enum TokenHint {
    RefreshToken,
    AccessToken,
}

/// Revokes one token (RFC 7009 §2).
pub async fn revoke(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    token: &str,
    hint: TokenHint,
) -> Result<()> {
    let endpoint = metadata
        .revocation_endpoint
        .as_deref()
        .ok_or(Error::MissingEndpoint {
            issuer: metadata.issuer.clone(),
            endpoint: "revocation_endpoint",
        })?;
    let hint = match hint {
        TokenHint::RefreshToken => "refresh_token",
        TokenHint::AccessToken => "access_token",
    };
    let fields = vec![
        ("token", token.to_string()),
        ("token_type_hint", hint.to_string()),
    ];
    let (url, response, sent) = post_authenticated(
        http,
        metadata,
        client,
        "revocation endpoint",
        endpoint,
        fields,
        Vec::new(),
    )
    .await?;
    if response.is_success() {
        return Ok(());
    }
    let reason = match serde_json::from_slice::<OAuthErrorResponse>(&response.body) {
        Ok(e) => format!("HTTP {}: {e}", response.status),
        Err(_) => format!("HTTP {}", response.status),
    };
    Err(sent.scrub(Error::RevocationFailed {
        url: url.to_string(),
        reason,
    }))
}

/// What sign-out revocation achieved; local deletion happens regardless (SPEC §4.7).
#[derive(Debug)]
pub struct RevocationReport {
    /// `None` when there was nothing to revoke or no revocation endpoint.
    pub refresh_token: Option<Result<()>>,
    pub access_token: Option<Result<()>>,
    /// False when the server has no revocation endpoint.
    pub supported: bool,
}

impl RevocationReport {
    /// True when every attempted revocation succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.supported
            && [&self.refresh_token, &self.access_token]
                .iter()
                .all(|r| r.as_ref().is_none_or(|r| r.is_ok()))
    }
}

/// Revokes the refresh token first, then the access token (SPEC §4.7).
pub async fn revoke_grant(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    refresh_token: Option<&RefreshToken>,
    access_token: Option<&AccessToken>,
) -> RevocationReport {
    if metadata.revocation_endpoint.is_none() {
        return RevocationReport {
            refresh_token: None,
            access_token: None,
            supported: false,
        };
    }
    let mut report = RevocationReport {
        refresh_token: None,
        access_token: None,
        supported: true,
    };
    if let Some(rt) = refresh_token {
        report.refresh_token =
            Some(revoke(http, metadata, client, rt.secret(), TokenHint::RefreshToken).await);
    }
    if let Some(at) = access_token {
        report.access_token =
            Some(revoke(http, metadata, client, at.secret(), TokenHint::AccessToken).await);
    }
    report
}

/// An introspection answer (RFC 7662 §2.2); only the members MCP Auth shows.
#[derive(Debug, Clone, Deserialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub exp: Option<i64>,
    #[serde(default)]
    pub aud: Option<serde_json::Value>,
    #[serde(default)]
    pub token_type: Option<String>,
}

/// Asks the authorization server whether a token is active (RFC 7662).
pub async fn introspect(
    http: &dyn HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    token: &str,
) -> Result<Introspection> {
    let endpoint = metadata
        .introspection_endpoint
        .as_deref()
        .ok_or(Error::MissingEndpoint {
            issuer: metadata.issuer.clone(),
            endpoint: "introspection_endpoint",
        })?;
    let (url, response, sent) = post_authenticated(
        http,
        metadata,
        client,
        "introspection endpoint",
        endpoint,
        vec![("token", token.to_string())],
        Vec::new(),
    )
    .await?;
    if !response.is_success() {
        return Err(Error::HttpStatus {
            url: url.to_string(),
            status: response.status,
            what: "to the introspection request",
        });
    }
    parse_json(&url, "introspection response", &response.body).map_err(|e| sent.scrub(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenResponse> {
        let url = url::Url::parse("https://as.example/token").expect("url");
        let raw: RawTokenResponse = parse_json(&url, "token response", body.as_bytes())?;
        token_response_from(&url, raw, Some(&Scopes::parse("asked")), false)
    }

    #[test]
    fn a_token_without_expires_in_is_not_fresh_forever() {
        use base64::Engine as _;
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let jwt = |claims: String| format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(&claims));
        let body = |token: &str| format!(r#"{{"access_token":"{token}","token_type":"Bearer"}}"#);
        // A JWT: its own `exp`.
        let t = parse(&body(&jwt(format!(r#"{{"sub":"a","exp":{}}}"#, now + 600)))).expect("jwt");
        assert_eq!(t.expiry_source, ExpirySource::JwtExp);
        let lifetime = t.expires_in.expect("a lifetime");
        assert!((595..=600).contains(&lifetime), "{lifetime}");
        // An expired JWT is expired, not assumed fresh.
        let t = parse(&body(&jwt(format!(r#"{{"exp":{}}}"#, now - 60)))).expect("jwt");
        assert_eq!(
            (t.expires_in, t.expiry_source),
            (Some(0), ExpirySource::JwtExp)
        );
        // Opaque, a JWT without `exp`, or a string `exp`: the bounded default.
        for token in [
            "opaque-token".to_string(),
            jwt(r#"{"sub":"a"}"#.into()),
            jwt(r#"{"exp":"tomorrow"}"#.into()),
            "a.b".into(),
            "not.base64!.x".into(),
        ] {
            let t = parse(&body(&token)).expect("token");
            assert_eq!(t.expiry_source, ExpirySource::Assumed, "{token}");
            assert_eq!(t.expires_in, Some(ASSUMED_LIFETIME_SECS), "{token}");
        }
        // `expires_in` wins over the JWT's claim.
        let t = parse(&format!(
            r#"{{"access_token":"{}","token_type":"Bearer","expires_in":60}}"#,
            jwt(format!(r#"{{"exp":{}}}"#, now + 6000))
        ))
        .expect("both");
        assert_eq!(
            (t.expires_in, t.expiry_source),
            (Some(60), ExpirySource::ExpiresIn)
        );
    }

    #[test]
    fn token_response_rules() {
        let t = parse(r#"{"access_token":"at","token_type":"bEaReR","expires_in":"3600"}"#)
            .expect("numeric string tolerated");
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.scopes.map(|s| s.to_string()), Some("asked".into()));
        assert!(!t.scope_returned);
        let t =
            parse(r#"{"access_token":"at","token_type":"Bearer","expires_in":-5,"scope":"x y"}"#)
                .expect("negative is expired");
        assert_eq!(t.expires_in, Some(0));
        assert_eq!(t.scopes.map(|s| s.to_string()), Some("x y".into()));
        let t = parse(r#"{"access_token":"at","token_type":"Bearer","expires_in":1e300}"#)
            .expect("huge is clamped");
        assert_eq!(t.expires_in, Some(MAX_EXPIRES_IN));
        let err = parse(r#"{"access_token":"at","token_type":"Bearer","expires_in":"soon"}"#)
            .expect_err("non-numeric");
        assert!(err.to_string().contains("expires_in"), "{err}");
        let err = parse(r#"{"access_token":"at","token_type":"mac"}"#).expect_err("not bearer");
        assert!(err.to_string().contains("mac"), "{err}");
        let err = parse(r#"{"token_type":"Bearer"}"#).expect_err("no token");
        assert!(err.to_string().contains("access_token"), "{err}");
    }

    #[test]
    fn basic_auth_form_encodes_before_base64() {
        let client = ClientRegistration {
            issuer: "https://as.example".into(),
            client_id: "id with space".into(),
            kind: crate::registration::RegistrationKind::PreRegistered,
            auth: ClientAuth::SecretBasic(crate::secret::ClientSecret::new("p@ss:wörd")),
            redirect_uris: vec![],
            registration_access_token: None,
            client_secret_expires_at: None,
            dpop: None,
        };
        let metadata = AuthorizationServerMetadata::legacy_defaults("https://as.example");
        let (mut fields, mut headers) = (Vec::new(), Vec::new());
        authenticate(&client, &metadata, &mut fields, &mut headers).expect("ok");
        assert!(fields.is_empty());
        let value = headers[0].1.trim_start_matches("Basic ");
        let decoded = String::from_utf8(STANDARD.decode(value).expect("b64")).expect("utf8");
        assert_eq!(decoded, "id+with+space:p%40ss%3Aw%C3%B6rd");
    }
}
