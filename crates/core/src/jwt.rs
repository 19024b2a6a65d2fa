//! Private keys for `private_key_jwt` client authentication (RFC 7523 §2.2)
//! and DPoP proofs: ES256, RS256, PS256 and EdDSA, loaded from PEM or JWK and
//! signed with `jsonwebtoken` on aws-lc-rs.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, EllipticCurveKeyParameters, EllipticCurveKeyType, Jwk,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::PrivateKeyMaterial;

mod read;
use read::{invalid, pem_der, Parsed};

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

    fn jose(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::Rs256 => Algorithm::RS256,
            Self::Ps256 => Algorithm::PS256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of key it is. A P-256 key keeps its scalar, for a DPoP key's
/// public JWK and its place in the keyring.
enum KeyKind {
    P256(p256::SecretKey),
    Rsa,
    Ed25519,
}

/// A private signing key and its algorithm. `Debug` never shows key material.
///
/// Keys are read from PEM or JWK with the RustCrypto key crates into the DER
/// that `jsonwebtoken` takes; every signature is made by `jsonwebtoken` on
/// aws-lc-rs.
pub struct SigningKey {
    alg: SigningAlgorithm,
    kid: Option<String>,
    kind: KeyKind,
    key: EncodingKey,
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
        let (label, der) = pem_der(pem)?;
        let parsed =
            match label.as_str() {
                "PRIVATE KEY" => Parsed::from_pkcs8(&der)?,
                "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&der)
                    .map(Parsed::P256)
                    .map_err(|_| invalid("the EC key is not a valid P-256 private key"))?,
                "RSA PRIVATE KEY" => Parsed::from_pkcs1(&der)?,
                "ENCRYPTED PRIVATE KEY" => return Err(invalid(
                    "the key is encrypted; decrypt it first (openssl pkcs8 -in key.pem -nocrypt)",
                )),
                other => {
                    return Err(invalid(format!(
                        "a PEM block `{other}` is not a private key"
                    )))
                }
            };
        Self::with_alg(parsed, alg, None)
    }

    /// Loads a private JWK (RFC 7517): EC P-256, RSA, or OKP Ed25519.
    pub fn from_jwk(jwk: &str, alg: Option<SigningAlgorithm>) -> Result<Self> {
        let parsed: serde_json::Value = serde_json::from_str(jwk)
            .map_err(|e| invalid(format!("the JWK is not valid JSON: {e}")))?;
        let text = |name: &str| parsed.get(name).and_then(serde_json::Value::as_str);
        let Some(kty) = text("kty") else {
            return Err(invalid("the JWK has no `kty` string"));
        };
        let key = match (kty, text("crv")) {
            ("EC", Some("P-256")) => p256::SecretKey::from_jwk_str(jwk)
                .map(Parsed::P256)
                .map_err(|_| invalid("the EC JWK is not a valid P-256 private key"))?,
            ("EC", crv) => {
                return Err(invalid(format!(
                    "EC curve {crv:?} is not supported (use P-256 with ES256)"
                )))
            }
            ("RSA", _) => Parsed::rsa_from_jwk(&parsed)?,
            ("OKP", Some("Ed25519")) => Parsed::ed25519_from_jwk(&parsed)?,
            (kty, crv) => {
                return Err(invalid(format!(
                    "key type {kty} (curve {crv:?}) is not supported"
                )))
            }
        };
        let alg = match (alg, text("alg")) {
            (Some(a), _) => Some(a),
            (None, Some(a)) => Some(SigningAlgorithm::parse(a)?),
            (None, None) => None,
        };
        Self::with_alg(key, alg, text("kid").map(str::to_string))
    }

    fn with_alg(key: Parsed, alg: Option<SigningAlgorithm>, kid: Option<String>) -> Result<Self> {
        use SigningAlgorithm::*;
        let alg = match (&key, alg) {
            (Parsed::P256(_), None | Some(Es256)) => Es256,
            (Parsed::Rsa(_), None | Some(Rs256)) => Rs256,
            (Parsed::Rsa(_), Some(Ps256)) => Ps256,
            (Parsed::Ed25519(_), None | Some(EdDsa)) => EdDsa,
            (_, Some(other)) => {
                return Err(invalid(format!(
                    "the key cannot sign with {other}: P-256 keys sign ES256, RSA keys RS256 or PS256, Ed25519 keys EdDSA"
                )))
            }
        };
        let pkcs8 = |der: pkcs8::Result<pkcs8::SecretDocument>| {
            der.map_err(|_| invalid("the key could not be encoded as PKCS#8"))
        };
        let (kind, key) = match key {
            Parsed::P256(secret) => {
                use pkcs8::EncodePrivateKey;
                let der = pkcs8(secret.to_pkcs8_der())?;
                (
                    KeyKind::P256(secret),
                    EncodingKey::from_ec_der(der.as_bytes()),
                )
            }
            Parsed::Rsa(der) => (KeyKind::Rsa, EncodingKey::from_rsa_der(&der)),
            Parsed::Ed25519(secret) => {
                use pkcs8::EncodePrivateKey;
                let der = pkcs8(secret.to_pkcs8_der())?;
                (KeyKind::Ed25519, EncodingKey::from_ed_der(der.as_bytes()))
            }
        };
        let key = Self {
            alg,
            kid,
            kind,
            key,
        };
        // aws-lc checks the key when it signs; a first signature here turns
        // a key it refuses into an error at load, not at the first request.
        jsonwebtoken::crypto::sign(b"key check", &key.key, alg.jose()).map_err(|_| {
            invalid(match key.kind {
                KeyKind::Rsa => "aws-lc refused the RSA key: it must be a consistent RSA key of 2048 to 8192 bits",
                _ => "aws-lc refused the key; it may be damaged",
            })
        })?;
        Ok(key)
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
        let mut header = Header::new(self.alg.jose());
        header.kid = self.kid.clone();
        self.sign(header, claims)
    }

    /// A fresh P-256 key (ES256), from the operating system's random source.
    pub(crate) fn generate_p256() -> Self {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        Self::with_alg(Parsed::P256(secret), Some(SigningAlgorithm::Es256), None)
            .expect("a fresh P-256 key signs")
    }

    /// The public half as a JWK with only the members RFC 7638 hashes
    /// (`crv`, `kty`, `x`, `y`), for a P-256 key; `None` for other keys.
    pub(crate) fn p256_public_jwk(&self) -> Option<Jwk> {
        let KeyKind::P256(secret) = &self.kind else {
            return None;
        };
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let point = secret.public_key().to_encoded_point(false);
        Some(Jwk {
            common: Default::default(),
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: URL_SAFE_NO_PAD.encode(point.x()?),
                y: URL_SAFE_NO_PAD.encode(point.y()?),
            }),
        })
    }

    /// The private scalar of a P-256 key (`d` of its JWK); `None` for other keys.
    pub(crate) fn p256_private_scalar(&self) -> Option<Zeroizing<String>> {
        let KeyKind::P256(secret) = &self.kind else {
            return None;
        };
        Some(Zeroizing::new(URL_SAFE_NO_PAD.encode(secret.to_bytes())))
    }

    /// Signs a compact JWS with the given protected header; `alg` is set here.
    pub(crate) fn sign(&self, mut header: Header, claims: &serde_json::Value) -> Result<String> {
        header.alg = self.alg.jose();
        jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|e| invalid(format!("signing with the {} key failed: {e}", self.alg)))
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
    use base64::engine::general_purpose::STANDARD;
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
        use ed25519_dalek::Verifier;
        let secret = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let x = URL_SAFE_NO_PAD.encode(secret.verifying_key().as_bytes());
        let jwk = |x: &str| {
            format!(
                r#"{{"kty":"OKP","crv":"Ed25519","d":"{}","x":"{x}"}}"#,
                URL_SAFE_NO_PAD.encode([7u8; 32])
            )
        };
        let key = SigningKey::from_jwk(&jwk(&x), None).expect("loads");
        assert_eq!(key.algorithm(), SigningAlgorithm::EdDsa);
        let a = key.client_assertion("c", "https://as").expect("signs");
        let b = key.client_assertion("c", "https://as").expect("signs");
        assert_ne!(decode_part(&a, 1)["jti"], decode_part(&b, 1)["jti"]);
        assert_eq!(decode_part(&a, 0)["alg"], "EdDSA");
        let (input, sig) = a.rsplit_once('.').expect("dot");
        let sig = ed25519_dalek::Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).expect("b64"))
            .expect("64-byte signature");
        secret
            .verifying_key()
            .verify(input.as_bytes(), &sig)
            .expect("verifies");
        let other = URL_SAFE_NO_PAD.encode([9u8; 32]);
        let err = SigningKey::from_jwk(&jwk(&other), None).expect_err("x does not match d");
        assert!(err.to_string().contains("not the public key"), "{err}");
    }

    /// A 2048-bit RSA key from aws-lc, as PKCS#8 DER, and its public half
    /// (PKCS#1 DER) to verify with.
    fn rsa_key() -> (Vec<u8>, Vec<u8>) {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::KeyPair;
        let pair =
            aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key");
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
            .expect("PKCS#8")
            .as_ref()
            .to_vec();
        (pkcs8, pair.public_key().as_ref().to_vec())
    }

    fn pem(label: &str, der: &[u8]) -> String {
        let body = STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("base64"))
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    fn verify_rsa(jwt: &str, public_pkcs1: &[u8], alg: Algorithm) -> serde_json::Value {
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.set_audience(&["https://as.example"]);
        jsonwebtoken::decode::<serde_json::Value>(
            jwt,
            &jsonwebtoken::DecodingKey::from_rsa_der(public_pkcs1),
            &validation,
        )
        .expect("the signature verifies")
        .claims
    }

    #[test]
    fn rsa_from_pkcs8_pkcs1_and_jwk_signs_rs256_and_ps256() {
        let (pkcs8, public) = rsa_key();
        let info = pkcs8::PrivateKeyInfo::try_from(pkcs8.as_slice()).expect("PKCS#8");
        let pkcs1 = info.private_key.to_vec();
        let parts = pkcs1::RsaPrivateKey::try_from(pkcs1.as_slice()).expect("PKCS#1");
        let b64 = |u: pkcs1::UintRef<'_>| URL_SAFE_NO_PAD.encode(u.as_bytes());
        let jwk = serde_json::json!({
            "kty": "RSA", "kid": "k-1",
            "n": b64(parts.modulus), "e": b64(parts.public_exponent),
            "d": b64(parts.private_exponent), "p": b64(parts.prime1), "q": b64(parts.prime2),
            "dp": b64(parts.exponent1), "dq": b64(parts.exponent2), "qi": b64(parts.coefficient),
        });
        let keys = [
            SigningKey::from_pem(&pem("PRIVATE KEY", &pkcs8), None).expect("PKCS#8 PEM"),
            SigningKey::from_pem(&pem("RSA PRIVATE KEY", &pkcs1), None).expect("PKCS#1 PEM"),
            SigningKey::from_jwk(&jwk.to_string(), None).expect("JWK"),
            SigningKey::from_pem(&pem("PRIVATE KEY", &pkcs8), Some(SigningAlgorithm::Ps256))
                .expect("PS256"),
        ];
        for key in &keys {
            let jwt = key
                .client_assertion("client-1", "https://as.example")
                .expect("signs");
            let alg = key.algorithm().jose();
            assert_eq!(decode_part(&jwt, 0)["alg"], key.algorithm().as_str());
            assert_eq!(verify_rsa(&jwt, &public, alg)["iss"], "client-1");
        }
        assert_eq!(
            decode_part(&keys[2].sign_jwt(&serde_json::json!({})).expect("signs"), 0)["kid"],
            "k-1"
        );
        let mut partial = jwk.clone();
        partial.as_object_mut().expect("object").remove("dq");
        let err = SigningKey::from_jwk(&partial.to_string(), None).expect_err("no dq");
        assert!(err.to_string().contains("`dq`"), "{err}");
        let mut wrong = jwk.clone();
        wrong["d"] = serde_json::Value::String(b64(parts.prime1));
        let err = SigningKey::from_jwk(&wrong.to_string(), None).expect_err("inconsistent");
        assert!(err.to_string().contains("2048 to 8192 bits"), "{err}");
        let text = err.to_string();
        for secret in [b64(parts.private_exponent), b64(parts.prime1)] {
            assert!(!text.contains(&secret[..16]), "{text}");
        }
    }

    /// A throwaway 1024-bit RSA key, made with `openssl genrsa -traditional
    /// 1024` for this test alone: too short for aws-lc to sign with.
    const RSA_1024: &str = "-----BEGIN RSA PRIVATE KEY-----\n\
MIICXQIBAAKBgQDOH87KgXZfpAcFwWPJCO4UjY7Gz+TgCTf6SW7l/SMIo4Z7PtHg\n\
9bmNH7mrGWQh5HRTFAuS/CbMeT7YkifXCfsD3DIJMcV7DKpvr7kSBdM1tmjvTZX1\n\
i4f9YYsFLyRY4ami7KqzTLeC/6b+QqPt4/6jenxez7Nro+l4ZtCz/eKqswIDAQAB\n\
AoGBAMQqq2A4c5K0BWbp1PCHiiWPTxlQ006QF3Egn+VL0yKulhcHAzEoSm3PiqEW\n\
aiCDTl2ejyFUzgv9O91aw4W43uTpBt2/+Pu2+reBIsCwrjS3OU64a5nokfjdKnk9\n\
Wzk9UfLz67gkMVyGb8Lu+yimVYyR4Lh2lsRShS9+uuRo17MhAkEA7pJJn0gLkWOr\n\
Sh6TpFhk9p3aDQdGK0IppuezlRX459qElqhw4evMiskEm86FerDBRaScNAbdrr7Q\n\
MIMeGYZGMQJBAN0usyUBGZmIZ2X78VhieWqlW+p2+e3R737H9B+GAWgUOn00Klts\n\
JTZgFd75ZbqmYncd1JBbaNPT+YSYImwJsiMCQEhAdZuPrjEyBkZETGKRgsJNvCQF\n\
9/JR71tlALY+GUvemhkmmklRqHi/uG2XdkVaEq6M0+HN0oWBtHt8ujjwuYECQCKc\n\
/Ev+MBNm1UeQdeRvBLE7z3aRx+r/v4sHn5yPTAkNoVmWoEpOUkSAJOwP+2uKPj6F\n\
3I36wBzmP1YQuNJPciECQQDBmsQbmN51V8AYTmrpxcZZv7it71SRjwU39q38FqJ5\n\
aGL++gd87ZmwUwq7ZJIfkdRnFGozDCm2xA5fdoN1VjnT\n\
-----END RSA PRIVATE KEY-----";

    #[test]
    fn a_short_rsa_key_is_refused_at_load_with_the_reason() {
        let err = SigningKey::from_pem(RSA_1024, None).expect_err("1024 bits");
        let text = err.to_string();
        assert!(text.contains("2048 to 8192 bits"), "{text}");
        let body = RSA_1024.lines().nth(2).expect("a body line");
        assert!(!text.contains(body), "{text}");
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
