//! The authorization response (SPEC §3.2, §3.5): parse it, match its `state`
//! to a pending sign-in exactly once, check `iss` (RFC 9207), and only then
//! release the code.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use url::Url;

use crate::authorize::PendingAuthorization;
use crate::error::{Error, OAuthErrorResponse, Result, StateProblem};
use crate::secret::AuthorizationCode;

/// The parameters of an authorization response (RFC 6749 §4.1.2, RFC 9207).
#[derive(Debug, Default)]
pub struct CallbackParams {
    pub code: Option<AuthorizationCode>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub error_uri: Option<String>,
}

impl CallbackParams {
    /// Parses a full redirect URL (loopback, deep link or pasted by the user).
    pub fn from_redirect_url(redirect: &str) -> Result<Self> {
        let url = Url::parse(redirect.trim()).map_err(|e| Error::InvalidUrl {
            input: "(the redirect URL)".into(),
            reason: e.to_string(),
        })?;
        Ok(Self::from_query(url.query().unwrap_or_default()))
    }

    /// Parses a query string. A repeated parameter keeps its first value.
    pub fn from_query(query: &str) -> Self {
        let mut out = Self::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let v = v.into_owned();
            match k.as_ref() {
                "code" if out.code.is_none() => out.code = Some(AuthorizationCode::new(v)),
                "state" if out.state.is_none() => out.state = Some(v),
                "iss" if out.iss.is_none() => out.iss = Some(v),
                "error" if out.error.is_none() => out.error = Some(v),
                "error_description" if out.error_description.is_none() => {
                    out.error_description = Some(v)
                }
                "error_uri" if out.error_uri.is_none() => out.error_uri = Some(v),
                _ => {}
            }
        }
        out
    }
}

/// Checks `state`, then `iss`, then the error, and returns the code (SPEC §3.5).
/// On an issuer mismatch the response's own text is not shown.
pub fn validate_callback(
    pending: &PendingAuthorization,
    params: CallbackParams,
) -> Result<AuthorizationCode> {
    match params.state.as_deref() {
        None => {
            return Err(Error::State {
                problem: StateProblem::Missing,
            })
        }
        Some(s) if crate::secret::CsrfState::new(s) != pending.state => {
            return Err(Error::State {
                problem: StateProblem::Unknown,
            })
        }
        Some(_) => {}
    }
    match params.iss {
        Some(iss) if iss != pending.issuer => {
            return Err(Error::CallbackIssuerMismatch {
                expected: pending.issuer.clone(),
                found: iss,
            })
        }
        None if pending.iss_required => {
            return Err(Error::CallbackIssuerMissing {
                expected: pending.issuer.clone(),
            })
        }
        _ => {}
    }
    if let Some(error) = params.error {
        return Err(Error::AuthorizationDenied {
            response: OAuthErrorResponse {
                error,
                error_description: params.error_description,
                error_uri: params.error_uri,
            },
        });
    }
    params.code.ok_or(Error::MissingCode)
}

/// How long a sign-in may stay pending by default.
pub const DEFAULT_PENDING_TTL: Duration = Duration::from_secs(600);
const REMEMBERED_USED_STATES: usize = 256;

/// Pending sign-ins of this process, each completed at most once.
#[derive(Debug)]
pub struct PendingStore {
    ttl: Duration,
    inner: Mutex<PendingInner>,
}

#[derive(Debug, Default)]
struct PendingInner {
    pending: HashMap<[u8; 32], PendingAuthorization>,
    /// Hashes of states already completed, to tell "reused" from "unknown".
    used: VecDeque<[u8; 32]>,
}

fn state_key(state: &str) -> [u8; 32] {
    Sha256::digest(state.as_bytes()).into()
}

impl Default for PendingStore {
    fn default() -> Self {
        Self::new(DEFAULT_PENDING_TTL)
    }
}

impl PendingStore {
    /// A store whose entries expire after `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(PendingInner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PendingInner> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a pending sign-in until its callback arrives.
    pub fn insert(&self, pending: PendingAuthorization) {
        let mut inner = self.lock();
        let ttl = self.ttl;
        inner.pending.retain(|_, p| p.created_at.elapsed() < ttl);
        inner
            .pending
            .insert(state_key(pending.state.secret()), pending);
    }

    /// Drops a pending sign-in; true if there was one.
    pub fn cancel(&self, state: &str) -> bool {
        self.lock().pending.remove(&state_key(state)).is_some()
    }

    /// How many sign-ins are pending.
    pub fn len(&self) -> usize {
        self.lock().pending.len()
    }

    /// True when none is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Matches a response to its pending sign-in, once, and validates it.
    pub fn complete(
        &self,
        params: CallbackParams,
    ) -> Result<(PendingAuthorization, AuthorizationCode)> {
        let state = params.state.clone().ok_or(Error::State {
            problem: StateProblem::Missing,
        })?;
        let key = state_key(&state);
        let pending = {
            let mut inner = self.lock();
            match inner.pending.remove(&key) {
                Some(p) if p.created_at.elapsed() < self.ttl => {
                    inner.used.push_back(key);
                    if inner.used.len() > REMEMBERED_USED_STATES {
                        inner.used.pop_front();
                    }
                    p
                }
                Some(_) => {
                    return Err(Error::State {
                        problem: StateProblem::Unknown,
                    })
                }
                None if inner.used.contains(&key) => {
                    return Err(Error::State {
                        problem: StateProblem::Reused,
                    })
                }
                None => {
                    return Err(Error::State {
                        problem: StateProblem::Unknown,
                    })
                }
            }
        };
        let code = validate_callback(&pending, params)?;
        Ok((pending, code))
    }

    /// True when the pending sign-in for this state is older than the timeout.
    pub fn is_expired(&self, state: &str, now: Instant) -> bool {
        self.lock()
            .pending
            .get(&state_key(state))
            .is_none_or(|p| now.duration_since(p.created_at) >= self.ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::{start_authorization, AuthorizationRequest};
    use crate::metadata::AuthorizationServerMetadata;
    use crate::registration::{ClientAuth, ClientRegistration, RegistrationKind};

    fn pending(iss_required: bool) -> PendingAuthorization {
        let mut m = AuthorizationServerMetadata::legacy_defaults("https://as.example");
        m.authorization_response_iss_parameter_supported = iss_required;
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
            scopes: None,
            redirect_uri: "http://127.0.0.1:5/callback".into(),
            prompt: None,
        };
        start_authorization(&m, &client, &request)
            .expect("builds")
            .1
    }

    fn query(state: &str, extra: &str) -> CallbackParams {
        CallbackParams::from_query(&format!("code=the-code&state={state}{extra}"))
    }

    #[test]
    fn state_missing_unknown_reused() {
        let store = PendingStore::default();
        let p = pending(true);
        let state = p.state.secret().to_string();
        store.insert(p);
        let err = store
            .complete(CallbackParams::from_query(
                "code=x&iss=https%3A%2F%2Fas.example",
            ))
            .expect_err("missing");
        assert!(matches!(
            err,
            Error::State {
                problem: StateProblem::Missing
            }
        ));
        let err = store
            .complete(query("nope", "&iss=https%3A%2F%2Fas.example"))
            .expect_err("unknown");
        assert!(matches!(
            err,
            Error::State {
                problem: StateProblem::Unknown
            }
        ));
        assert_eq!(
            store.len(),
            1,
            "a bad state must not consume the pending sign-in"
        );
        let (_, code) = store
            .complete(query(&state, "&iss=https%3A%2F%2Fas.example"))
            .expect("valid");
        assert_eq!(code.secret(), "the-code");
        let err = store
            .complete(query(&state, "&iss=https%3A%2F%2Fas.example"))
            .expect_err("reused");
        assert!(matches!(
            err,
            Error::State {
                problem: StateProblem::Reused
            }
        ));
    }

    #[test]
    fn issuer_checks_are_exact() {
        for (iss, required, ok) in [
            ("&iss=https%3A%2F%2Fas.example", true, true),
            ("&iss=https%3A%2F%2Fas.example%2F", true, false),
            ("&iss=https%3A%2F%2FAS.example", true, false),
            ("&iss=https%3A%2F%2Fevil.example", false, false),
            ("", true, false),
            ("", false, true),
        ] {
            let p = pending(required);
            let state = p.state.secret().to_string();
            let result = validate_callback(&p, query(&state, iss));
            assert_eq!(result.is_ok(), ok, "{iss} required={required}");
        }
    }

    #[test]
    fn mismatched_issuer_hides_the_description() {
        let p = pending(true);
        let state = p.state.secret().to_string();
        let err = validate_callback(
            &p,
            CallbackParams::from_query(&format!(
                "state={state}&iss=https%3A%2F%2Fevil.example&error=access_denied&error_description=CALL+1-800-SCAM"
            )),
        )
        .expect_err("mismatch");
        assert!(matches!(err, Error::CallbackIssuerMismatch { .. }));
        assert!(!err.to_string().contains("SCAM"));
    }

    #[test]
    fn error_response_is_kept() {
        let p = pending(false);
        let state = p.state.secret().to_string();
        let err = validate_callback(
            &p,
            CallbackParams::from_query(&format!(
                "state={state}&error=access_denied&error_description=The+user+said+no"
            )),
        )
        .expect_err("denied");
        assert_eq!(err.oauth_error(), Some("access_denied"));
        assert!(err.to_string().contains("The user said no"));
    }

    #[test]
    fn expired_sign_in_is_unknown() {
        let store = PendingStore::new(Duration::from_millis(0));
        let p = pending(false);
        let state = p.state.secret().to_string();
        store.insert(p);
        assert!(store.is_expired(&state, Instant::now()));
        let err = store.complete(query(&state, "")).expect_err("expired");
        assert!(matches!(
            err,
            Error::State {
                problem: StateProblem::Unknown
            }
        ));
    }
}
