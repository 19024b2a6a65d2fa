//! Private keys for `private_key_jwt` client authentication (RFC 7523 §2.2):
//! ES256, RS256, PS256 and EdDSA, loaded from PEM or JWK.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::secret::PrivateKeyMaterial;

/// The claims of a compact JWS (three parts, a payload of at most 64 KiB
/// that is a JSON object), read without verifying it: for what the holder
/// may read of a token meant for someone else (its lifetime, who it names),
/// never for a security decision. `None` for anything else (an opaque
/// token, a JWE).
pub fn unverified_claims(token: &str) -> Option<serde_json::Value> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    let _signature = parts.next()?;
    if parts.next().is_some() || payload.len() > 64 * 1024 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .filter(serde_json::Value::is_object)
}

/// How long a client assertion is valid.
pub const ASSERTION_LIFETIME_SECS: u64 = 60;

/// Rebuilds a PEM block from text whose line breaks were lost or changed (a key
/// pasted into a one-line field): header, base64 body re-wrapped at 64, footer.
/// Returns the block's label and the normalized text. Never quotes key material
/// in its errors.
fn normalize_pem(text: &str) -> Result<(String, String)> {
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
    let body: String = rest[..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&footer);
    out.push('\n');
    Ok((label.to_string(), out))
}

/// A JWS algorithm for client assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "PS256")]
    Ps256,
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl SigningAlgorithm {
    /// The JOSE name (`ES256`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Parses a JOSE name, case-insensitively.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "ES256" => Ok(Self::Es256),
            "RS256" => Ok(Self::Rs256),
            "PS256" => Ok(Self::Ps256),
            "EDDSA" | "ED25519" => Ok(Self::EdDsa),
            _ => Err(Error::InvalidKey {
                reason: format!(
                    "unsupported signing algorithm `{s}` (use ES256, RS256, PS256 or EdDSA)"
                ),
            }),
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum KeyInner {
    P256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A private signing key and its algorithm. `Debug` never shows key material.
pub struct SigningKey {
    alg: SigningAlgorithm,
    kid: Option<String>,
    key: KeyInner,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidKey {
        reason: reason.into(),
    }
}

impl SigningKey {
    /// Loads PEM (PKCS#8, SEC1 or PKCS#1) or a JWK, detected from the text.
    pub fn load(material: &PrivateKeyMaterial, alg: Option<SigningAlgorithm>) -> Result<Self> {
        let text = material.secret().trim_start();
        if text.starts_with('{') {
            Self::from_jwk(text, alg)
        } else if text.starts_with("-----BEGIN") {
            Self::from_pem(text, alg)
        } else {
            Err(invalid(
                "expected a PEM private key (-----BEGIN ... PRIVATE KEY-----) or a JWK (a JSON object)",
            ))
        }
    }

    /// Loads a PEM private key. For RSA keys `alg` picks RS256 (default) or PS256.
    pub fn from_pem(pem: &str, alg: Option<SigningAlgorithm>) -> Result<Self> {
        use p256::pkcs8::DecodePrivateKey;
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let (label, normalized) = normalize_pem(pem)?;
        let pem = normalized.as_str();
        let label = label.as_str();
        let key = match label {
            "PRIVATE KEY" => {
                if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
                    KeyInner::P256(k)
                } else if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
                    KeyInner::Rsa(Box::new(k))
                } else if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
                    KeyInner::Ed25519(k)
                } else {
                    return Err(invalid(
                        "the PKCS#8 key is not a P-256, RSA or Ed25519 private key, or it is damaged",
                    ));
                }
            }
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_pem(pem)
                .map(|k| KeyInner::P256(k.into()))
                .map_err(|_| invalid("the EC key is not a valid P-256 private key"))?,
            "RSA PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs1_pem(pem)
                .map(|k| KeyInner::Rsa(Box::new(k)))
                .map_err(|_| invalid("the RSA private key could not be read"))?,
            "ENCRYPTED PRIVATE KEY" => {
                return Err(invalid(
                    "the key is encrypted; decrypt it first (openssl pkcs8 -in key.pem -nocrypt)",
                ))
            }
            other => {
                return Err(invalid(format!(
                    "a PEM block `{other}` is not a private key"
                )))
            }
        };
        Self::with_alg(key, alg, None)
    }

    /// Loads a private JWK (RFC 7517): EC P-256, RSA, or OKP Ed25519.
    pub fn from_jwk(jwk: &str, alg: Option<SigningAlgorithm>) -> Result<Self> {
        #[derive(Deserialize)]
        struct Jwk {
            kty: String,
            crv: Option<String>,
            alg: Option<String>,
            kid: Option<String>,
            d: Option<String>,
            n: Option<String>,
            e: Option<String>,
            p: Option<String>,
            q: Option<String>,
        }
        let parsed: Jwk = serde_json::from_str(jwk)
            .map_err(|e| invalid(format!("the JWK is not valid JSON of the right shape: {e}")))?;
        let b64 = |name: &str, v: &Option<String>| -> Result<Vec<u8>> {
            let v = v.as_deref().ok_or_else(|| {
                invalid(format!("the JWK has no `{name}`; a private key is needed"))
            })?;
            URL_SAFE_NO_PAD
                .decode(v.trim_end_matches('='))
                .map_err(|_| invalid(format!("the JWK member `{name}` is not base64url")))
        };
        let key = match (parsed.kty.as_str(), parsed.crv.as_deref()) {
            ("EC", Some("P-256")) => p256::SecretKey::from_jwk_str(jwk)
                .map(|k| KeyInner::P256(k.into()))
                .map_err(|_| invalid("the EC JWK is not a valid P-256 private key"))?,
            ("EC", crv) => {
                return Err(invalid(format!(
                    "EC curve {crv:?} is not supported (use P-256 with ES256)"
                )))
            }
            ("RSA", _) => {
                let n = rsa::BigUint::from_bytes_be(&b64("n", &parsed.n)?);
                let e = rsa::BigUint::from_bytes_be(&b64("e", &parsed.e)?);
                let d = rsa::BigUint::from_bytes_be(&b64("d", &parsed.d)?);
                let p = rsa::BigUint::from_bytes_be(&b64("p", &parsed.p)?);
                let q = rsa::BigUint::from_bytes_be(&b64("q", &parsed.q)?);
                rsa::RsaPrivateKey::from_components(n, e, d, vec![p, q])
                    .map(|k| KeyInner::Rsa(Box::new(k)))
                    .map_err(|_| invalid("the RSA JWK's numbers do not form a valid key"))?
            }
            ("OKP", Some("Ed25519")) => {
                let d: [u8; 32] = b64("d", &parsed.d)?
                    .try_into()
                    .map_err(|_| invalid("an Ed25519 `d` must be 32 bytes"))?;
                KeyInner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&d))
            }
            (kty, crv) => {
                return Err(invalid(format!(
                    "key type {kty} (curve {crv:?}) is not supported"
                )))
            }
        };
        let alg = match (alg, parsed.alg.as_deref()) {
            (Some(a), _) => Some(a),
            (None, Some(a)) => Some(SigningAlgorithm::parse(a)?),
            (None, None) => None,
        };
        Self::with_alg(key, alg, parsed.kid)
    }

    fn with_alg(key: KeyInner, alg: Option<SigningAlgorithm>, kid: Option<String>) -> Result<Self> {
        use SigningAlgorithm::*;
        let alg = match (&key, alg) {
            (KeyInner::P256(_), None | Some(Es256)) => Es256,
            (KeyInner::Rsa(_), None | Some(Rs256)) => Rs256,
            (KeyInner::Rsa(_), Some(Ps256)) => Ps256,
            (KeyInner::Ed25519(_), None | Some(EdDsa)) => EdDsa,
            (_, Some(other)) => {
                return Err(invalid(format!(
                    "the key cannot sign with {other}: P-256 keys sign ES256, RSA keys RS256 or PS256, Ed25519 keys EdDSA"
                )))
            }
        };
        Ok(Self { alg, kid, key })
    }

    /// Sets the key id sent in the JWS header.
    pub fn with_kid(mut self, kid: Option<String>) -> Self {
        self.kid = kid;
        self
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.alg
    }

    /// Signs a compact JWS over the given claims.
    pub fn sign_jwt(&self, claims: &serde_json::Value) -> Result<String> {
        let mut header = serde_json::json!({"typ": "JWT"});
        if let Some(kid) = &self.kid {
            header["kid"] = serde_json::Value::String(kid.clone());
        }
        self.sign_with_header(header, claims)
    }

    /// A fresh P-256 key (ES256), from the operating system's random source.
    pub(crate) fn generate_p256() -> Self {
        Self {
            alg: SigningAlgorithm::Es256,
            kid: None,
            key: KeyInner::P256(p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng)),
        }
    }

    /// The public half as a JWK with only the members RFC 7638 hashes
    /// (`crv`, `kty`, `x`, `y`), for a P-256 key; `None` for other keys.
    pub(crate) fn p256_public_jwk(&self) -> Option<serde_json::Value> {
        let KeyInner::P256(k) = &self.key else {
            return None;
        };
        let point = k.verifying_key().to_encoded_point(false);
        Some(serde_json::json!({
            "crv": "P-256",
            "kty": "EC",
            "x": URL_SAFE_NO_PAD.encode(point.x()?),
            "y": URL_SAFE_NO_PAD.encode(point.y()?),
        }))
    }

    /// The private scalar of a P-256 key (`d` of its JWK); `None` for other keys.
    pub(crate) fn p256_private_scalar(&self) -> Option<zeroize::Zeroizing<String>> {
        let KeyInner::P256(k) = &self.key else {
            return None;
        };
        Some(zeroize::Zeroizing::new(
            URL_SAFE_NO_PAD.encode(k.to_bytes()),
        ))
    }

    /// Signs a compact JWS with the given protected header; `alg` is set here.
    pub(crate) fn sign_with_header(
        &self,
        mut header: serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String> {
        header["alg"] = serde_json::Value::String(self.alg.as_str().into());
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let msg = signing_input.as_bytes();
        let signature: Vec<u8> = match (&self.key, self.alg) {
            (KeyInner::P256(k), _) => {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = k.sign(msg);
                sig.to_bytes().to_vec()
            }
            (KeyInner::Rsa(k), SigningAlgorithm::Ps256) => {
                use rsa::signature::{RandomizedSigner, SignatureEncoding};
                let signer = rsa::pss::BlindedSigningKey::<Sha256>::new(k.as_ref().clone());
                signer
                    .try_sign_with_rng(&mut rand::thread_rng(), msg)
                    .map_err(|e| invalid(format!("RSA-PSS signing failed: {e}")))?
                    .to_vec()
            }
            (KeyInner::Rsa(k), _) => {
                use rsa::signature::{SignatureEncoding, Signer};
                let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(k.as_ref().clone());
                signer
                    .try_sign(msg)
                    .map_err(|e| invalid(format!("RSA signing failed: {e}")))?
                    .to_vec()
            }
            (KeyInner::Ed25519(k), _) => {
                use ed25519_dalek::Signer;
                k.sign(msg).to_bytes().to_vec()
            }
        };
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// A client assertion (RFC 7523 §2.2): `iss` = `sub` = client id, `aud` = the
    /// authorization server's issuer, a unique `jti`, `iat` and a short `exp`.
    pub fn client_assertion(&self, client_id: &str, audience: &str) -> Result<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut jti = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut jti);
        self.sign_jwt(&serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::{EncodePrivateKey, LineEnding};

    #[test]
    fn unverified_claims_are_read_from_a_jws_only() {
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let jws = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"ES256"}"#),
            b64(r#"{"sub":"u","exp":9}"#)
        );
        assert_eq!(unverified_claims(&jws).expect("claims")["sub"], "u");
        let jwe = format!(
            "{}.{}.iv.ct.tag",
            b64(r#"{"alg":"RSA-OAEP"}"#),
            b64(r#"{"sub":"u"}"#)
        );
        let array = format!("{}.{}.sig", b64("{}"), b64("[1]"));
        for not_a_jws in ["opaque-token", "a.b", jwe.as_str(), array.as_str()] {
            assert_eq!(unverified_claims(not_a_jws), None, "{not_a_jws}");
        }
    }

    fn decode_part(jwt: &str, i: usize) -> serde_json::Value {
        let part = jwt.split('.').nth(i).expect("JWS part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
    }

    #[test]
    fn es256_from_pem_and_jwk_verify() {
        use p256::ecdsa::signature::Verifier;
        let secret = p256::SecretKey::random(&mut rand::thread_rng());
        let pem = secret.to_pkcs8_pem(LineEnding::LF).expect("pem");
        let jwk = secret.to_jwk_string();
        for key in [
            SigningKey::load(&PrivateKeyMaterial::new(pem.as_str()), None).expect("pem loads"),
            SigningKey::load(&PrivateKeyMaterial::new(jwk.as_str()), None).expect("jwk loads"),
        ] {
            assert_eq!(key.algorithm(), SigningAlgorithm::Es256);
            let jwt = key
                .client_assertion("client-1", "https://as.example")
                .expect("signs");
            let claims = decode_part(&jwt, 1);
            assert_eq!(claims["iss"], "client-1");
            assert_eq!(claims["sub"], "client-1");
            assert_eq!(claims["aud"], "https://as.example");
            assert!(claims["exp"].as_u64() > claims["iat"].as_u64());
            assert_eq!(decode_part(&jwt, 0)["alg"], "ES256");
            let (input, sig) = jwt.rsplit_once('.').expect("dot");
            let sig =
                p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).expect("b64"))
                    .expect("64-byte signature");
            let vk = p256::ecdsa::VerifyingKey::from(secret.public_key());
            vk.verify(input.as_bytes(), &sig).expect("verifies");
        }
    }

    #[test]
    fn ed25519_and_unique_jti() {
        let d = [7u8; 32];
        let jwk = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","d":"{}","x":"unused"}}"#,
            URL_SAFE_NO_PAD.encode(d)
        );
        let key = SigningKey::from_jwk(&jwk, None).expect("loads");
        assert_eq!(key.algorithm(), SigningAlgorithm::EdDsa);
        let a = key.client_assertion("c", "https://as").expect("signs");
        let b = key.client_assertion("c", "https://as").expect("signs");
        assert_ne!(decode_part(&a, 1)["jti"], decode_part(&b, 1)["jti"]);
    }

    #[test]
    fn pem_without_line_breaks_still_loads_and_errors_never_quote_keys() {
        let secret = p256::SecretKey::random(&mut rand::thread_rng());
        let pem = secret.to_pkcs8_pem(LineEnding::LF).expect("pem");
        let one_line = pem.replace('\n', " ");
        assert!(SigningKey::from_pem(&one_line, None).is_ok());
        let no_breaks = pem.replace('\n', "");
        assert!(SigningKey::from_pem(&no_breaks, None).is_ok());
        let body: String = pem.lines().nth(1).expect("body line").to_string();
        let broken = format!("-----BEGIN PRIVATE KEY{body}-----\n-----END PRIVATE KEY-----");
        let err = SigningKey::from_pem(&broken, None).expect_err("bad header");
        assert!(!err.to_string().contains(&body[..20]), "{err}");
    }

    #[test]
    fn bad_keys_say_why() {
        let err = SigningKey::load(&PrivateKeyMaterial::new("hello"), None).expect_err("fails");
        assert!(err.to_string().contains("PEM private key"), "{err}");
        let err = SigningKey::from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            None,
        )
        .expect_err("fails");
        assert!(err.to_string().contains("damaged"), "{err}");
        let secret = p256::SecretKey::random(&mut rand::thread_rng());
        let pem = secret.to_pkcs8_pem(LineEnding::LF).expect("pem");
        let err = SigningKey::from_pem(&pem, Some(SigningAlgorithm::Rs256)).expect_err("fails");
        assert!(err.to_string().contains("cannot sign with RS256"), "{err}");
        assert!(!format!("{:?}", SigningKey::from_pem(&pem, None).expect("ok")).contains("BEGIN"));
    }
}
