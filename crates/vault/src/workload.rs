//! Workload identity (MCP SEP-1933): a machine account whose grant is a JWT
//! its platform issues — a Kubernetes projected service-account token, a CI
//! system's OIDC token — sent with the JWT bearer grant (RFC 7523 §2.1).
//!
//! The platform renews that token on its own schedule, so it is read afresh,
//! from a file or an environment variable, at every token request, and never
//! kept: the account stores only where to read it. A request the server
//! refuses is not sent again with the same assertion, and no other grant is
//! tried in its place.

use std::path::PathBuf;

use base64::Engine as _;
use mcpauth_core::secret::Assertion;
use serde::{Deserialize, Serialize};

use crate::model::now_secs;

/// Where a workload account reads its assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssertionSource {
    /// A file the platform writes (and rewrites) the token to.
    File(PathBuf),
    /// An environment variable of the process that asks for a token.
    Env(String),
    /// An ID-JAG from the organisation's identity provider (SEP-990,
    /// [`crate::idp`]), asked for afresh at every token request.
    IdJag(crate::idp::IdpLink),
}

/// The largest assertion read (a JWT is a few kB; a projected token ~1 kB).
const MAX_ASSERTION_BYTES: usize = 64 * 1024;

impl std::fmt::Display for AssertionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "the file {}", path.display()),
            Self::Env(name) => write!(f, "the environment variable {name}"),
            Self::IdJag(link) => link.fmt(f),
        }
    }
}

impl AssertionSource {
    /// Reads the assertion now and checks that it is a JWT that has not
    /// expired; nothing is sent anywhere when it is not. An ID-JAG is not
    /// read but asked for ([`crate::Vault`] does that).
    pub fn read(&self) -> Result<Assertion, mcpauth_core::Error> {
        self.read_jwt("workload assertion")
    }

    /// True when the token is read from the asking process's environment, so
    /// only that process (a proxy, `mcpauth token`) can get tokens with it.
    pub fn reads_env(&self) -> bool {
        match self {
            Self::Env(_) => true,
            Self::IdJag(link) => link.reads_env(),
            Self::File(_) => false,
        }
    }

    /// Reads a JWT from the file or variable; `what` names it in errors.
    pub(crate) fn read_jwt(&self, what: &str) -> Result<Assertion, mcpauth_core::Error> {
        let fail = |reason: String| mcpauth_core::Error::InvalidAssertion {
            source_name: format!("{what} from {self}"),
            reason,
        };
        let mut raw = match self {
            Self::File(path) => {
                let bytes = std::fs::read(path).map_err(|e| {
                    fail(match e.kind() {
                        std::io::ErrorKind::NotFound => {
                            "the file does not exist; check the path, and that the platform projects the token there".to_string()
                        }
                        std::io::ErrorKind::PermissionDenied => {
                            "this user may not read the file; check its permissions".to_string()
                        }
                        _ => format!("cannot read it ({e})"),
                    })
                })?;
                if bytes.len() > MAX_ASSERTION_BYTES {
                    return Err(fail(format!(
                        "it holds {} bytes, more than the {MAX_ASSERTION_BYTES} a token may have; is it the right file?",
                        bytes.len()
                    )));
                }
                String::from_utf8(bytes).map_err(|_| fail("it is not text".into()))?
            }
            Self::Env(name) => match std::env::var(name) {
                Ok(value) => value,
                Err(std::env::VarError::NotPresent) => {
                    return Err(fail(
                        "it is not set in this process; set it where mcpauth runs, or use --assertion-file".into(),
                    ))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(fail("it is not valid UTF-8".into()))
                }
            },
            Self::IdJag(_) => {
                return Err(fail(
                    "it is asked of the identity provider at each token request, not read".into(),
                ))
            }
        };
        let assertion = Assertion::new(raw.trim().to_string());
        zeroize::Zeroize::zeroize(&mut raw);
        check_jwt(assertion.secret(), now_secs()).map_err(fail)?;
        Ok(assertion)
    }
}

/// A compact JWS whose payload is a JSON object, not past its `exp`. The
/// signature is the authorization server's to check; this only spares it
/// (and the user) a request that cannot succeed. The reason never quotes the
/// token.
fn check_jwt(token: &str, now: i64) -> Result<(), String> {
    if token.is_empty() {
        return Err("it is empty".into());
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err("it is not a JWT (three base64url parts separated by dots)".into());
    }
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1].trim_end_matches('='))
        .map_err(|_| "its payload is not base64url".to_string())?;
    let claims: serde_json::Value = serde_json::from_slice(&payload)
        .map_err(|_| "its payload is not a JSON object".to_string())?;
    let exp = claims.get("exp").and_then(serde_json::Value::as_i64);
    if let Some(exp) = exp.filter(|exp| *exp < now) {
        return Err(format!(
            "it expired {} s ago (exp {exp}); the platform has not renewed it",
            now - exp
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2ln", b64(r#"{"alg":"ES256"}"#), b64(claims))
    }

    #[test]
    fn a_jwt_is_accepted_until_its_expiry() {
        assert_eq!(check_jwt(&jwt(r#"{"exp":1000,"sub":"w"}"#), 999), Ok(()));
        assert_eq!(check_jwt(&jwt(r#"{"sub":"no expiry"}"#), 999), Ok(()));
        let expired = check_jwt(&jwt(r#"{"exp":1000}"#), 1060).expect_err("expired");
        assert!(expired.contains("expired 60 s ago"), "{expired}");
    }

    #[test]
    fn what_is_not_a_jwt_is_named_without_quoting_it() {
        for (token, why) in [
            ("", "empty"),
            ("secret-looking-value", "not a JWT"),
            ("a.b", "not a JWT"),
            ("a..c", "not a JWT"),
            ("a.!!!.c", "not base64url"),
            (&jwt("[1,2")[..], "not a JSON object"),
        ] {
            let reason = check_jwt(token, 0).expect_err("not a JWT");
            assert!(reason.contains(why), "{token}: {reason}");
            assert!(token.len() < 8 || !reason.contains(token), "{reason}");
        }
    }

    #[test]
    fn a_missing_file_and_an_unset_variable_say_what_to_do() {
        let missing = AssertionSource::File("/nonexistent/mcpauth/token".into())
            .read()
            .expect_err("no such file")
            .to_string();
        assert!(missing.contains("/nonexistent/mcpauth/token"), "{missing}");
        assert!(missing.contains("does not exist"), "{missing}");
        assert!(missing.contains("nothing was sent"), "{missing}");
        let unset = AssertionSource::Env("MCPAUTH_TEST_SURELY_UNSET_VARIABLE".into())
            .read()
            .expect_err("no such variable")
            .to_string();
        assert!(
            unset.contains("variable MCPAUTH_TEST_SURELY_UNSET_VARIABLE"),
            "{unset}"
        );
        assert!(unset.contains("is not set in this process"), "{unset}");
        assert!(unset.contains("--assertion-file"), "{unset}");
    }

    #[test]
    fn the_file_is_read_afresh_each_time() {
        let path = std::env::temp_dir().join(format!("mcpauth-assertion-{}", std::process::id()));
        let source = AssertionSource::File(path.clone());
        std::fs::write(&path, format!("{}\n", jwt(r#"{"sub":"one"}"#))).expect("write");
        assert_eq!(
            source.read().expect("first").secret(),
            jwt(r#"{"sub":"one"}"#)
        );
        std::fs::write(&path, jwt(r#"{"sub":"two"}"#)).expect("write");
        assert_eq!(
            source.read().expect("second").secret(),
            jwt(r#"{"sub":"two"}"#)
        );
        let _ = std::fs::remove_file(&path);
    }
}
