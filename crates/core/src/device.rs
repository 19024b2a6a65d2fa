//! The device authorization grant (RFC 8628), for a terminal with no browser
//! (SSH, a container): the device asks for a user code, the person approves
//! it on another device's browser, and the device polls the token endpoint
//! until the grant arrives, is declined, or the code expires.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::{parse_json, parse_secure};
use crate::metadata::AuthorizationServerMetadata;
use crate::registration::ClientRegistration;
use crate::scopes::Scopes;
use crate::secret::DeviceCode;
use crate::token::{post_authenticated, refusal, token_request, TokenResponse};

/// The device authorization grant type (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// RFC 8628 §3.2: the polling interval when the server names none.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// RFC 8628 §3.5: `slow_down` adds 5 seconds to the interval, for good.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The longest interval believed (a server asking for an hour is broken).
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// The longest user code shown; real ones are 8 to 12 characters.
const MAX_USER_CODE: usize = 64;

/// A device authorization (RFC 8628 §3.2): what the person is shown, and the
/// device code the token requests carry.
#[derive(Debug)]
pub struct DeviceAuthorization {
    pub device_code: DeviceCode,
    /// Typed by the person at `verification_uri` (shown as sent).
    pub user_code: String,
    pub verification_uri: String,
    /// The same page with the code filled in, for a link or a QR code.
    pub verification_uri_complete: Option<String>,
    /// How long the codes are valid, from the response's arrival.
    pub expires_in: Duration,
    /// How long to wait between token requests.
    pub interval: Duration,
    /// The `resource` and scopes asked for, sent again with each token request.
    pub resource: String,
    pub scopes: Option<Scopes>,
    /// When the codes were asked for: their life is counted from then.
    received: Instant,
}

impl DeviceAuthorization {
    /// When the codes run out.
    pub fn deadline(&self) -> Instant {
        self.received + self.expires_in
    }
}

#[derive(Deserialize)]
struct RawDeviceAuthorization {
    device_code: String,
    user_code: String,
    #[serde(default)]
    verification_uri: Option<String>,
    /// The name some servers (Google's) sent before the RFC settled.
    #[serde(default)]
    verification_url: Option<String>,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    #[serde(deserialize_with = "crate::token::lenient_seconds")]
    expires_in: Option<i64>,
    #[serde(default, deserialize_with = "crate::token::lenient_seconds")]
    interval: Option<i64>,
}

/// Asks the authorization server for a device code and a user code (RFC 8628
/// §3.1), authenticating as the client is registered, with `resource` (RFC
/// 8707) and `scope`. Refused before sending when the server offers no such
/// endpoint, or lists its grant types without this one.
pub async fn request_device_authorization(
    http: &dyn crate::http::HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    resource: &str,
    scopes: Option<&Scopes>,
) -> Result<DeviceAuthorization> {
    let endpoint =
        metadata
            .device_authorization_endpoint
            .as_deref()
            .ok_or(Error::MissingEndpoint {
                issuer: metadata.issuer.clone(),
                endpoint: "device_authorization_endpoint",
            })?;
    metadata.ensure_grant_offered(DEVICE_CODE_GRANT, "device authorization (RFC 8628)")?;
    let mut fields = vec![("resource", resource.to_string())];
    if let Some(scope) = scopes.filter(|s| !s.is_empty()) {
        fields.push(("scope", scope.to_string()));
    }
    // The code's life starts at the server somewhere between asking and the
    // answer; counted from the asking, our deadline is never after the
    // server's, however slow the answer (a loaded machine, a slow network).
    let asked = Instant::now();
    let (url, response, sent) = post_authenticated(
        http,
        metadata,
        client,
        "device authorization endpoint",
        endpoint,
        fields,
        Vec::new(),
    )
    .await?;
    if !response.is_success() {
        return Err(sent.scrub(refusal(
            &url,
            &response,
            "device authorization",
            "from the device authorization endpoint without an OAuth error",
        )));
    }
    let raw: RawDeviceAuthorization =
        parse_json(&url, "device authorization response", &response.body)
            .map_err(|e| sent.scrub(e))?;
    let received = asked;
    let bad = |reason: String| Error::InvalidDeviceAuthorization {
        url: url.to_string(),
        reason,
    };
    if raw.device_code.is_empty() {
        return Err(bad("its device_code is empty".into()));
    }
    check_user_code(&raw.user_code).map_err(bad)?;
    let verification_uri = raw
        .verification_uri
        .or(raw.verification_url)
        .ok_or_else(|| bad("it has no verification_uri".into()))?;
    check_page("verification_uri", &verification_uri).map_err(bad)?;
    // An unusable complete URI only loses the shortcut: the code is typed.
    let verification_uri_complete = raw
        .verification_uri_complete
        .filter(|uri| check_page("verification_uri_complete", uri).is_ok());
    let expires_in = match raw.expires_in {
        Some(s) if s > 0 => Duration::from_secs(s.unsigned_abs().min(24 * 3600)),
        _ => return Err(bad("its expires_in is missing or not positive".into())),
    };
    let interval = match raw.interval {
        Some(s) if s > 0 => Duration::from_secs(s.unsigned_abs()).min(MAX_INTERVAL),
        _ => DEFAULT_INTERVAL,
    };
    Ok(DeviceAuthorization {
        device_code: DeviceCode::new(raw.device_code),
        user_code: raw.user_code,
        verification_uri,
        verification_uri_complete,
        expires_in,
        interval,
        resource: resource.to_string(),
        scopes: scopes.cloned(),
        received,
    })
}

/// The user code goes to a terminal: printable, short, no control characters
/// (an escape sequence in it could rewrite what the person reads).
fn check_user_code(code: &str) -> std::result::Result<(), String> {
    if code.trim().is_empty() {
        return Err("its user_code is empty".into());
    }
    if code.chars().count() > MAX_USER_CODE {
        return Err(format!(
            "its user_code is longer than {MAX_USER_CODE} characters"
        ));
    }
    if code.chars().any(char::is_control) {
        return Err("its user_code holds control characters".into());
    }
    Ok(())
}

/// A page the person is sent to: https (http only on loopback, as for every
/// endpoint), and nothing a terminal would take as a command.
fn check_page(name: &str, uri: &str) -> std::result::Result<(), String> {
    if uri.chars().any(char::is_control) {
        return Err(format!("its {name} holds control characters"));
    }
    parse_secure("verification page", uri)
        .map(|_| ())
        .map_err(|e| format!("its {name} cannot be used: {e}"))
}

/// One token request's outcome (RFC 8628 §3.5).
#[derive(Debug)]
pub enum DevicePoll {
    Granted(Box<TokenResponse>),
    /// `authorization_pending`: not approved yet.
    Pending,
    /// `slow_down`: not approved yet, and the interval grows by 5 s.
    SlowDown,
}

/// Asks the token endpoint once (RFC 8628 §3.4).
pub async fn poll_device_token(
    http: &dyn crate::http::HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    authorization: &DeviceAuthorization,
) -> Result<DevicePoll> {
    let fields = vec![
        ("grant_type", DEVICE_CODE_GRANT.to_string()),
        (
            "device_code",
            authorization.device_code.secret().to_string(),
        ),
        ("resource", authorization.resource.clone()),
    ];
    let answer = token_request(
        http,
        metadata,
        client,
        "device_code",
        fields,
        authorization.scopes.as_ref(),
    )
    .await;
    match answer {
        Ok(tokens) => Ok(DevicePoll::Granted(Box::new(tokens))),
        Err(e) => match e.oauth_error() {
            Some("authorization_pending") => Ok(DevicePoll::Pending),
            Some("slow_down") => Ok(DevicePoll::SlowDown),
            Some("access_denied") => Err(Error::DeviceDenied {
                issuer: metadata.issuer.clone(),
            }),
            Some("expired_token") => Err(Error::DeviceCodeExpired {
                issuer: metadata.issuer.clone(),
                seconds: authorization.expires_in.as_secs(),
            }),
            _ => Err(e),
        },
    }
}

/// Polls until the grant arrives, the person declines, or the code expires:
/// every `interval`, 5 s more after each `slow_down`, and twice as long after
/// a network failure or a busy server (§3.5: "reduce their polling
/// frequency"), never past the code's expiry.
pub async fn wait_for_device_tokens(
    http: &dyn crate::http::HttpClient,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    authorization: &DeviceAuthorization,
) -> Result<TokenResponse> {
    let mut interval = authorization.interval;
    let expired = || Error::DeviceCodeExpired {
        issuer: metadata.issuer.clone(),
        seconds: authorization.expires_in.as_secs(),
    };
    loop {
        let now = Instant::now();
        let deadline = authorization.deadline();
        if now + interval > deadline {
            // One last ask at the deadline: it may have been approved meanwhile.
            tokio::time::sleep(deadline.saturating_duration_since(now)).await;
        } else {
            tokio::time::sleep(interval).await;
        }
        match poll_device_token(http, metadata, client, authorization).await {
            Ok(DevicePoll::Granted(tokens)) => return Ok(*tokens),
            Ok(DevicePoll::Pending) => {}
            Ok(DevicePoll::SlowDown) => interval = (interval + SLOW_DOWN_STEP).min(MAX_INTERVAL),
            // oidc-provider, among others, forgets an expired code and then
            // answers invalid_grant rather than expired_token (§3.5); its
            // expiry is in whole seconds, so it can come a second before
            // ours. Near the end of the code's life that is the expiry, said
            // at our deadline, never before it.
            Err(e)
                if e.oauth_error() == Some("invalid_grant")
                    && Instant::now() + interval + Duration::from_secs(1) >= deadline =>
            {
                tracing::debug!(
                    "the server no longer knows the device code; it runs out at our deadline"
                );
            }
            Err(e) if e.is_transient() => {
                tracing::debug!("device token request failed, polling more slowly: {e}");
                interval = (interval * 2).min(MAX_INTERVAL);
            }
            Err(e) => return Err(e),
        }
        if Instant::now() >= deadline {
            return Err(expired());
        }
    }
}
