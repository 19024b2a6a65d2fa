//! Reading private keys from PEM (PKCS#8, SEC1, PKCS#1) and JWK into the
//! forms `jsonwebtoken` signs with, using the RustCrypto key crates. Errors
//! say what is wrong with the key and never quote it.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The DER inside a PEM block whose line breaks were lost or changed (a key
/// pasted into a one-line field), with the block's label. Never quotes key
/// material in its errors.
pub(super) fn pem_der(text: &str) -> Result<(String, Zeroizing<Vec<u8>>)> {
    let text = text.trim();
    let after_begin = text
        .strip_prefix("-----BEGIN ")
        .ok_or_else(|| invalid("the PEM text does not start with -----BEGIN"))?;
    let label_end = after_begin
        .find("-----")
        .ok_or_else(|| invalid("the PEM header is not closed with -----"))?;
    let label = &after_begin[..label_end];
    if label.len() > 40 || !label.chars().all(|c| c.is_ascii_uppercase() || c == ' ') {
        return Err(invalid(
            "the PEM header is not a -----BEGIN <LABEL>----- line",
        ));
    }
    let rest = &after_begin[label_end + 5..];
    let footer = format!("-----END {label}-----");
    let body_end = rest
        .find(&footer)
        .ok_or_else(|| invalid(format!("the PEM block has no {footer} line")))?;
    let body: Zeroizing<String> = Zeroizing::new(
        rest[..body_end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
    );
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|_| invalid(format!("the body of the {label} PEM block is not base64")))?;
    Ok((label.to_string(), Zeroizing::new(der)))
}

pub(super) fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidKey {
        reason: reason.into(),
    }
}

/// PKCS#8 algorithm identifiers (RFC 8017 A.1, RFC 5480 §2.1.1, RFC 8410 §3).
const RSA_ENCRYPTION: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.101.112");

/// A key pair read from PEM or JWK, as the DER `jsonwebtoken` signs with.
pub(super) enum Parsed {
    P256(p256::SecretKey),
    /// PKCS#1 `RSAPrivateKey`.
    Rsa(Zeroizing<Vec<u8>>),
    Ed25519(ed25519_dalek::SigningKey),
}

impl Parsed {
    pub(super) fn from_pkcs8(der: &[u8]) -> Result<Self> {
        use pkcs8::DecodePrivateKey;
        let damaged = || {
            invalid("the PKCS#8 key is not a P-256, RSA or Ed25519 private key, or it is damaged")
        };
        let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(|_| damaged())?;
        match info.algorithm.oid {
            RSA_ENCRYPTION => Self::from_pkcs1(info.private_key),
            EC_PUBLIC_KEY => p256::SecretKey::from_pkcs8_der(der)
                .map(Self::P256)
                .map_err(|_| {
                    invalid("the EC key is not a valid P-256 private key (only P-256 signs ES256)")
                }),
            ED25519 => ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map(Self::Ed25519)
                .map_err(|_| damaged()),
            _ => Err(damaged()),
        }
    }

    pub(super) fn from_pkcs1(der: &[u8]) -> Result<Self> {
        pkcs1::RsaPrivateKey::try_from(der)
            .map_err(|_| invalid("the RSA private key could not be read"))?;
        Ok(Self::Rsa(Zeroizing::new(der.to_vec())))
    }

    /// An RSA private JWK (RFC 7518 §6.3.2): with `p` and `q` come `dp`,
    /// `dq` and `qi`, which a key pair needs and every tool that writes
    /// such a JWK includes.
    pub(super) fn rsa_from_jwk(jwk: &serde_json::Value) -> Result<Self> {
        let member = |name: &str| -> Result<Zeroizing<Vec<u8>>> {
            let value = jwk[name].as_str().ok_or_else(|| {
                invalid(format!(
                    "the RSA JWK has no `{name}`; a private key with its primes and CRT values (p, q, dp, dq, qi) is needed"
                ))
            })?;
            URL_SAFE_NO_PAD
                .decode(value.trim_end_matches('='))
                .map(Zeroizing::new)
                .map_err(|_| invalid(format!("the JWK member `{name}` is not base64url")))
        };
        let [n, e, d, p, q, dp, dq, qi] = ["n", "e", "d", "p", "q", "dp", "dq", "qi"].map(member);
        let (n, e, d, p, q, dp, dq, qi) = (n?, e?, d?, p?, q?, dp?, dq?, qi?);
        fn uint(bytes: &[u8]) -> Result<pkcs1::UintRef<'_>> {
            pkcs1::UintRef::new(bytes)
                .map_err(|_| invalid("the RSA JWK's numbers do not form a valid key"))
        }
        let key = pkcs1::RsaPrivateKey {
            modulus: uint(&n)?,
            public_exponent: uint(&e)?,
            private_exponent: uint(&d)?,
            prime1: uint(&p)?,
            prime2: uint(&q)?,
            exponent1: uint(&dp)?,
            exponent2: uint(&dq)?,
            coefficient: uint(&qi)?,
            other_prime_infos: None,
        };
        let der = pkcs1::der::Encode::to_der(&key)
            .map_err(|_| invalid("the RSA JWK's numbers do not form a valid key"))?;
        Ok(Self::Rsa(Zeroizing::new(der)))
    }

    pub(super) fn ed25519_from_jwk(jwk: &serde_json::Value) -> Result<Self> {
        let b64 = |name: &str| -> Result<Zeroizing<Vec<u8>>> {
            let value = jwk[name].as_str().ok_or_else(|| {
                invalid(format!("the JWK has no `{name}`; a private key is needed"))
            })?;
            URL_SAFE_NO_PAD
                .decode(value.trim_end_matches('='))
                .map(Zeroizing::new)
                .map_err(|_| invalid(format!("the JWK member `{name}` is not base64url")))
        };
        let d: [u8; 32] = b64("d")?
            .as_slice()
            .try_into()
            .map_err(|_| invalid("an Ed25519 `d` must be 32 bytes"))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&d);
        if jwk.get("x").is_some()
            && b64("x")?.as_slice() != key.verifying_key().as_bytes().as_slice()
        {
            return Err(invalid(
                "the Ed25519 JWK's `x` is not the public key of its `d`; the JWK is damaged",
            ));
        }
        Ok(Self::Ed25519(key))
    }
}
