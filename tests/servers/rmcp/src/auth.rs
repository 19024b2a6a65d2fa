//! Bearer authentication in front of the SDK, and the protected resource
//! metadata (RFC 9728) that the 401 challenge points at.
//!
//! rmcp's auth support is client-side only, so the server side is a plain
//! axum middleware. Tokens are not checked here: they go to the test AS's
//! `POST /__test/verify` so that this process accepts and refuses exactly the
//! tokens the Node servers do.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

/// Who the token belongs to; handed to `whoami` through the request's
/// extensions (rmcp copies the HTTP request parts into the tool's context).
#[derive(Debug, Clone)]
pub struct AuthInfo {
    pub sub: Option<String>,
    pub scope: String,
    pub client_id: Option<String>,
}

/// The verifier's 200 body. Everything optional: a verifier that omits a
/// field must not turn a valid token into an invalid one.
#[derive(Deserialize)]
struct Verified {
    sub: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    client_id: Option<String>,
    exp: Option<u64>,
}

pub struct Auth {
    /// This server's `/mcp` URL: the audience every token must name.
    pub resource: String,
    pub prm_url: String,
    pub issuer: String,
    verify_url: String,
    http: reqwest::Client,
    /// Positive verifications until the token's `exp`, so that a test's many
    /// calls cost one verify round trip. Rejections are not cached: they are
    /// rare and a test may expect a retry with the same token to be checked.
    cache: Mutex<HashMap<String, (AuthInfo, Instant)>>,
}

/// How long a verified token without `exp` is trusted before asking again.
const NO_EXP_TTL: Duration = Duration::from_secs(30);
/// Never trust a cached verification longer than this, whatever `exp` says,
/// so that a test that revokes or re-keys sees the change within a minute.
const MAX_TTL: Duration = Duration::from_secs(300);

enum Rejection {
    Missing,
    Invalid(String),
}

impl Auth {
    pub fn new(resource: String, prm_url: String, issuer: String, verify_url: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            // Only fails when the TLS backend cannot initialise; the plain
            // default client is an acceptable fallback for a test server.
            .unwrap_or_default();
        Self {
            resource,
            prm_url,
            issuer,
            verify_url,
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, token: &str) -> Option<AuthInfo> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        cache.retain(|_, (_, until)| *until > now);
        cache.get(token).map(|(info, _)| info.clone())
    }

    async fn verify(&self, token: &str) -> Result<AuthInfo, Rejection> {
        if let Some(info) = self.cached(token) {
            return Ok(info);
        }
        let response = self
            .http
            .post(&self.verify_url)
            .json(&json!({ "token": token, "audience": self.resource }))
            .send()
            .await
            .map_err(|e| {
                // Without the cause (the URL is fine to log, the token never is).
                tracing::warn!("verify request failed: {}", e.without_url());
                Rejection::Invalid("token verification unavailable".into())
            })?;
        let status = response.status();
        if status != StatusCode::OK {
            let description = response
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v.get("error_description")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("verifier answered {status}"));
            tracing::info!("token rejected: {description}");
            return Err(Rejection::Invalid(description));
        }
        let verified: Verified = response.json().await.map_err(|e| {
            tracing::warn!("verify answer unreadable: {e}");
            Rejection::Invalid("unreadable verification".into())
        })?;
        let info = AuthInfo {
            sub: verified.sub,
            scope: verified.scope.unwrap_or_default(),
            client_id: verified.client_id,
        };
        let ttl = match verified.exp {
            Some(exp) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                Duration::from_secs(exp.saturating_sub(now)).min(MAX_TTL)
            }
            None => NO_EXP_TTL,
        };
        if !ttl.is_zero() {
            self.cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(token.to_owned(), (info.clone(), Instant::now() + ttl));
        }
        Ok(info)
    }

    /// `WWW-Authenticate` + JSON body, in the shape of the Node servers'
    /// "current" style (tests/servers/auth.mjs).
    fn challenge(
        &self,
        status: StatusCode,
        pairs: &[(&str, &str)],
        body: serde_json::Value,
    ) -> Response {
        let params: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        let value = format!("Bearer {}", params.join(", "));
        let mut response = (status, axum::Json(body)).into_response();
        match HeaderValue::from_str(&value) {
            Ok(v) => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            // An error_description with control characters from the verifier;
            // the challenge without it still tells the client what to do.
            Err(_) => {
                let fallback = format!(
                    "Bearer error=\"invalid_token\", resource_metadata={}, scope=\"mcp:read\"",
                    quote(&self.prm_url)
                );
                if let Ok(v) = HeaderValue::from_str(&fallback) {
                    response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
            }
        }
        response
    }

    fn unauthorized(&self, rejection: Rejection) -> Response {
        match rejection {
            Rejection::Missing => self.challenge(
                StatusCode::UNAUTHORIZED,
                &[("resource_metadata", &self.prm_url), ("scope", "mcp:read")],
                json!({ "error": "unauthorized", "error_description": "Bearer token required" }),
            ),
            Rejection::Invalid(description) => self.challenge(
                StatusCode::UNAUTHORIZED,
                &[
                    ("error", "invalid_token"),
                    ("error_description", &description),
                    ("resource_metadata", &self.prm_url),
                    ("scope", "mcp:read"),
                ],
                json!({ "error": "invalid_token", "error_description": description }),
            ),
        }
    }

    /// The PRM document served at `/.well-known/oauth-protected-resource/mcp`.
    pub fn metadata(&self) -> serde_json::Value {
        json!({
            "resource": self.resource,
            "authorization_servers": [self.issuer],
            "scopes_supported": ["mcp:read", "mcp:write", "mcp:admin"],
            "bearer_methods_supported": ["header"],
        })
    }
}

fn quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `Authorization: Bearer <token>` (scheme case-insensitive), else `None`.
fn bearer_token(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Every request to `/mcp` (POST, GET, DELETE) needs a valid token with
/// `mcp:read`; the verified identity rides along in the request extensions.
pub async fn require_token(
    State(auth): State<Arc<Auth>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer_token(&request) else {
        return auth.unauthorized(Rejection::Missing);
    };
    let info = match auth.verify(token).await {
        Ok(info) => info,
        Err(rejection) => return auth.unauthorized(rejection),
    };
    if !info.scope.split(' ').any(|s| s == "mcp:read") {
        return auth.challenge(
            StatusCode::FORBIDDEN,
            &[
                ("error", "insufficient_scope"),
                ("scope", "mcp:read"),
                ("resource_metadata", &auth.prm_url),
            ],
            json!({ "error": "insufficient_scope", "error_description": "mcp:read required" }),
        );
    }
    request.extensions_mut().insert(info);
    next.run(request).await
}

pub async fn protected_resource_metadata(State(auth): State<Arc<Auth>>) -> Response {
    axum::Json(auth.metadata()).into_response()
}
