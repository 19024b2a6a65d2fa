//! Newtypes for every secret the engine handles.
//!
//! A secret's `Debug` prints only its type and `[redacted]`; it has no
//! `Display`, no `Deref` and no `Serialize`, so it cannot slip into a log line,
//! an error message or a JSON document by accident. The value comes out
//! through `.secret()` only, and is wiped from memory when dropped.

use zeroize::Zeroize;

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        secret_type!(@define $(#[$meta])* $name);
        impl Clone for $name {
            fn clone(&self) -> Self {
                Self(self.0.clone())
            }
        }
    };
    ($(#[$meta:meta])* $name:ident, single_use) => {
        secret_type!(@define $(#[$meta])* $name);
    };
    (@define $(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret value; every use is a deliberate call.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
            }
        }

        impl Eq for $name {}

        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }
    };
}

/// Compares without an early exit, so timing does not reveal a common prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

secret_type!(
    /// An OAuth access token (RFC 6749 §1.4).
    AccessToken
);
secret_type!(
    /// An OAuth refresh token (RFC 6749 §1.5).
    RefreshToken
);
secret_type!(
    /// An OpenID Connect ID token.
    IdToken
);
secret_type!(
    /// A confidential client's secret (RFC 6749 §2.3.1).
    ClientSecret
);
secret_type!(
    /// A JWT presented as an authorization grant (RFC 7523 §2.1): a
    /// workload's token from its platform (SEP-1933).
    Assertion
);
impl Assertion {
    /// The SHA-256 of the assertion (base64url): tells one assertion from the
    /// next, so a refused one is not sent again, without keeping it.
    pub fn fingerprint(&self) -> String {
        use base64::Engine as _;
        use sha2::{Digest, Sha256};
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()))
    }
}

secret_type!(
    /// The device code of a device authorization (RFC 8628 §3.2): the
    /// device's half of the grant, sent only to the token endpoint.
    DeviceCode
);

secret_type!(
    /// A private key in PEM or JWK form, for `private_key_jwt` (RFC 7523).
    PrivateKeyMaterial
);
secret_type!(
    /// The registration access token a server may return from RFC 7591 registration.
    RegistrationAccessToken
);
secret_type!(
    /// An authorization code from the authorization response (RFC 6749 §4.1.2).
    AuthorizationCode,
    single_use
);
secret_type!(
    /// A PKCE code verifier (RFC 7636 §4.1); single use, so not `Clone`.
    PkceVerifier,
    single_use
);
secret_type!(
    /// The `state` value binding an authorization response to its request (RFC 6749 §10.12).
    CsrfState
);

/// Secrets a person types or pastes (a flag, a form field sent over IPC) are
/// read straight into their newtype, so the structs that carry them can derive
/// `Debug` without showing them. Only reading: a secret is never serialised.
macro_rules! secret_input {
    ($($name:ident),*) => {$(
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::new(s))
            }
        }

        impl $name {
            /// True when the value is empty or only blanks (an untouched form field).
            pub fn is_blank(&self) -> bool {
                self.0.trim().is_empty()
            }
        }
    )*};
}
secret_input!(ClientSecret, PrivateKeyMaterial);

/// Shows the first four characters of a token and masks the rest (`eyJh****`).
pub fn mask(value: &str) -> String {
    let head: String = value.chars().take(4).collect();
    if value.chars().count() <= 8 {
        "****".to_string()
    } else {
        format!("{head}****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_secrets_are_read_but_never_shown() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)] // read through Debug only
        struct Form {
            client_secret: Option<ClientSecret>,
            private_key: Option<PrivateKeyMaterial>,
        }
        let form: Form = serde_json::from_str(
            r#"{"client_secret": "s3cr3t-value", "private_key": "-----BEGIN PRIVATE KEY-----x"}"#,
        )
        .expect("form");
        let shown = format!("{form:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("BEGIN"),
            "{shown}"
        );
        assert_eq!(
            form.client_secret.as_ref().map(|s| s.secret()),
            Some("s3cr3t-value")
        );
        let flag: ClientSecret = "from-a-flag".parse().expect("infallible");
        assert_eq!(flag.secret(), "from-a-flag");
        assert!(ClientSecret::new("  ").is_blank());
    }

    #[test]
    fn debug_is_redacted() {
        let token = AccessToken::new("super-secret-access-token");
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        assert_eq!(
            format!("{:?}", PkceVerifier::new("v")),
            "PkceVerifier([redacted])"
        );
        let nested = Some(RefreshToken::new("rt-value"));
        assert!(!format!("{nested:?}").contains("rt-value"));
        assert_eq!(token.secret(), "super-secret-access-token");
    }

    #[test]
    fn equality_compares_values() {
        assert_eq!(ClientSecret::new("a"), ClientSecret::new("a"));
        assert_ne!(ClientSecret::new("a"), ClientSecret::new("b"));
        assert_ne!(ClientSecret::new("a"), ClientSecret::new("ab"));
    }

    #[test]
    fn mask_hides_all_but_a_prefix() {
        assert_eq!(mask("gho_abcdefghijkl"), "gho_****");
        assert_eq!(mask("short"), "****");
    }
}
