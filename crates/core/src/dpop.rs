//! DPoP (RFC 9449, MCP SEP-1932): a per-account P-256 key that binds the
//! account's tokens to this machine, and the proofs that show possession of it
//! on every token request (§5) and every request to the MCP server (§7).
//!
//! The key is made once, when an account signs in at an authorization server
//! that offers DPoP, and lives in the keyring beside the account's tokens
//! ([`DpopKey::to_secret`]). Proofs are ES256: every server that offers DPoP
//! is expected to accept it (it is the one algorithm RFC 9449's examples and
//! the MCP extension name), and one algorithm keeps the stored key simple.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, Header};
use rand::RngCore;
use sha2::{Digest, Sha256};
use url::Url;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::jwt::{SigningAlgorithm, SigningKey};
use crate::metadata::AuthorizationServerMetadata;

/// The `Authorization` scheme of a DPoP-bound token (RFC 9449 §7.1).
pub const SCHEME: &str = "DPoP";

/// The one algorithm our proofs use.
pub const ALGORITHM: &str = "ES256";

/// The OAuth error (token endpoint, §8) and `WWW-Authenticate` error (resource
/// server, §9) that ask for a proof carrying the server's nonce.
pub const USE_NONCE: &str = "use_dpop_nonce";

/// The header that carries a server's nonce.
pub const NONCE_HEADER: &str = "DPoP-Nonce";

/// Whether an account at this authorization server binds its tokens with DPoP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopUse {
    /// The server offers ES256 in `dpop_signing_alg_values_supported`.
    Offered,
    /// The server offers DPoP, but only with algorithms we do not sign.
    UnsupportedAlgorithms,
    /// The server's metadata does not mention DPoP.
    NotOffered,
}

/// What the server's metadata says about DPoP (RFC 9449 §5.1).
pub fn offered(metadata: &AuthorizationServerMetadata) -> DpopUse {
    match &metadata.dpop_signing_alg_values_supported {
        None => DpopUse::NotOffered,
        Some(algs) if algs.iter().any(|a| a == ALGORITHM) => DpopUse::Offered,
        Some(_) => DpopUse::UnsupportedAlgorithms,
    }
}

/// An account's DPoP key. `Debug` shows only its thumbprint.
pub struct DpopKey {
    signer: SigningKey,
    public: Jwk,
    thumbprint: String,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

fn invalid(reason: &str) -> Error {
    Error::InvalidKey {
        reason: format!("the stored DPoP key {reason}"),
    }
}

impl DpopKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_signer(SigningKey::generate_p256()).expect("a P-256 key has a public JWK")
    }

    /// Reads a key written by [`Self::to_secret`] (a private EC P-256 JWK).
    pub fn from_secret(secret: &str) -> Result<Self> {
        let signer = SigningKey::from_jwk(secret, Some(SigningAlgorithm::Es256))
            .map_err(|_| invalid("is not a P-256 private JWK; sign in again to make a new one"))?;
        Self::from_signer(signer)
    }

    fn from_signer(signer: SigningKey) -> Result<Self> {
        let public = signer
            .p256_public_jwk()
            .ok_or_else(|| invalid("is not a P-256 key"))?;
        let thumbprint = public
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| invalid("has no RFC 7638 thumbprint"))?;
        Ok(Self {
            signer,
            public,
            thumbprint,
        })
    }

    /// The private JWK, for the keyring and nowhere else.
    pub fn to_secret(&self) -> Zeroizing<String> {
        let mut jwk = serde_json::to_value(&self.public).unwrap_or_default();
        let d = self
            .signer
            .p256_private_scalar()
            .expect("a DPoP key is a P-256 key");
        jwk["d"] = serde_json::Value::String(d.to_string());
        let text = Zeroizing::new(jwk.to_string());
        if let Some(serde_json::Value::String(d)) = jwk.get_mut("d") {
            zeroize::Zeroize::zeroize(d);
        }
        text
    }

    /// The JWK SHA-256 thumbprint (RFC 7638), the `jkt` a bound token names.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A proof for one request (RFC 9449 §4.2): `htm` and `htu` name the
    /// request (the URL without its query and fragment), `ath` the access
    /// token it carries (none at the token endpoint), `nonce` the server's
    /// latest, when it gave one. Every proof has its own `jti`.
    pub fn proof(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String> {
        let mut jti = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut jti);
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut claims = serde_json::json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": method,
            "htu": htu(url),
            "iat": iat,
        });
        if let Some(token) = access_token {
            claims["ath"] = URL_SAFE_NO_PAD
                .encode(Sha256::digest(token.as_bytes()))
                .into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.public.clone());
        self.signer.sign(header, &claims)
    }
}

/// The `htu` of a request (RFC 9449 §4.2): its URL without query and fragment.
pub fn htu(url: &Url) -> String {
    let mut bare = url.clone();
    bare.set_query(None);
    bare.set_fragment(None);
    bare.to_string()
}

/// A nonce as RFC 9449 §8.1 allows it: `1*NQCHAR` (printable ASCII except
/// `"` and `\`), and of a sane length. Anything else is not echoed back.
pub fn valid_nonce(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 1024
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("test value"))
            .expect("test value")
    }

    #[test]
    fn a_proof_names_the_request_and_the_token_and_verifies_with_its_own_key() {
        use p256::ecdsa::signature::Verifier;
        let key = DpopKey::generate();
        let url = Url::parse("https://mcp.example/mcp?session=1#frag").expect("test value");
        let proof = key
            .proof("POST", &url, Some("tok-123"), Some("n-1"))
            .expect("test value");
        let parts: Vec<&str> = proof.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode(parts[0]);
        let claims = decode(parts[1]);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert!(
            header["jwk"].get("d").is_none(),
            "no private part in the proof"
        );
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://mcp.example/mcp");
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(
            claims["ath"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(b"tok-123"))
        );
        let jwk = serde_json::to_string(&header["jwk"]).expect("test value");
        let public = p256::PublicKey::from_jwk_str(&jwk).expect("test value");
        let verifier = p256::ecdsa::VerifyingKey::from(public);
        let signature = p256::ecdsa::Signature::from_slice(
            &URL_SAFE_NO_PAD.decode(parts[2]).expect("test value"),
        )
        .expect("test value");
        verifier
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("the proof verifies with the key in its header");
        let again = key
            .proof("POST", &url, Some("tok-123"), None)
            .expect("test value");
        assert_ne!(
            decode(again.split('.').nth(1).expect("test value"))["jti"],
            claims["jti"],
            "every proof has its own jti"
        );
        assert!(decode(again.split('.').nth(1).expect("test value"))
            .get("nonce")
            .is_none());
    }

    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        // RFC 7638 has no EC example; this is the P-256 key of RFC 7517 A.1
        // with its thumbprint computed by jose (`calculateJwkThumbprint`).
        let secret = r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}"#;
        let key = DpopKey::from_secret(secret).expect("test value");
        assert_eq!(
            key.thumbprint(),
            "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"
        );
        let back = DpopKey::from_secret(&key.to_secret()).expect("test value");
        assert_eq!(back.thumbprint(), key.thumbprint());
    }

    #[test]
    fn debug_and_errors_show_no_key_material() {
        let key = DpopKey::generate();
        let secret = key.to_secret();
        let d = serde_json::from_str::<serde_json::Value>(&secret).expect("test value")["d"]
            .as_str()
            .expect("test value")
            .to_string();
        assert!(!format!("{key:?}").contains(&d));
        let broken = secret.replace("P-256", "P-384");
        let error = DpopKey::from_secret(&broken)
            .expect_err("a P-384 key is refused")
            .to_string();
        assert!(!error.contains(&d), "{error}");
        assert!(error.contains("sign in again"), "{error}");
    }

    #[test]
    fn a_nonce_is_echoed_only_when_it_is_one() {
        assert!(valid_nonce("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
        assert!(!valid_nonce(""));
        assert!(!valid_nonce("a b"));
        assert!(!valid_nonce("a\"b"));
        assert!(!valid_nonce("a\r\nSet-Cookie: x"));
        assert!(!valid_nonce(&"n".repeat(2000)));
    }
}
