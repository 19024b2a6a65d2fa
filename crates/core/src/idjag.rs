//! Enterprise-managed authorization (MCP SEP-990): the user's organisation
//! vouches for them. MCP Auth holds an ID token from the organisation's
//! identity provider (IdP) and, for each MCP server, exchanges it there
//! (RFC 8693 token exchange) for an Identity Assertion JWT Authorization
//! Grant (ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant) meant for
//! that server's authorization server, which takes it with the JWT bearer
//! grant (RFC 7523 §2.1, [`crate::token::jwt_bearer`]).
//!
//! The ID-JAG is read before it is presented: one the authorization server
//! would refuse (another audience, another resource, expired, not an ID-JAG)
//! is not sent there, and the error says what was wrong with it.

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::parse_json;
use crate::metadata::AuthorizationServerMetadata;
use crate::registration::ClientRegistration;
use crate::scopes::Scopes;
use crate::secret::{Assertion, IdToken};
use crate::token::{post_authenticated, refusal};

/// The token exchange grant type (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The subject token type of an OpenID Connect ID token (RFC 8693 §3).
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// The token type of an ID-JAG (SEP-990).
pub const ID_JAG_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// The JWT `typ` header of an ID-JAG.
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";

/// How far an ID-JAG's `exp` may be behind our clock and still be presented:
/// the authorization server's own tolerance is not known, so none is assumed
/// beyond a small clock skew.
const CLOCK_SKEW_SECS: i64 = 30;

/// What the ID-JAG is asked for: the MCP server's authorization server (the
/// `audience`), its resource, and optionally scopes.
#[derive(Debug, Clone, Copy)]
pub struct IdJagRequest<'a> {
    pub audience: &'a str,
    pub resource: &'a str,
    pub scope: Option<&'a Scopes>,
}

#[derive(Deserialize)]
struct RawExchangeResponse {
    access_token: String,
    #[serde(default)]
    issued_token_type: Option<String>,
}

/// Exchanges `id_token` at the identity provider (`idp`, authenticating as
/// `idp_client`) for an ID-JAG for `request`, and checks the ID-JAG before it
/// is handed back. `now` is Unix seconds.
pub async fn exchange_for_id_jag(
    http: &dyn crate::http::HttpClient,
    idp: &AuthorizationServerMetadata,
    idp_client: &ClientRegistration,
    id_token: &IdToken,
    request: IdJagRequest<'_>,
    now: i64,
) -> Result<Assertion> {
    idp.ensure_grant_offered(TOKEN_EXCHANGE_GRANT, "token exchange (RFC 8693)")?;
    let mut fields = vec![
        ("grant_type", TOKEN_EXCHANGE_GRANT.to_string()),
        ("requested_token_type", ID_JAG_TYPE.to_string()),
        ("audience", request.audience.to_string()),
        ("resource", request.resource.to_string()),
        ("subject_token", id_token.secret().to_string()),
        ("subject_token_type", ID_TOKEN_TYPE.to_string()),
    ];
    if let Some(scope) = request.scope.filter(|s| !s.is_empty()) {
        fields.push(("scope", scope.to_string()));
    }
    let (url, response, sent) = post_authenticated(
        http,
        idp,
        idp_client,
        "token endpoint",
        &idp.token_endpoint,
        fields,
        Vec::new(),
    )
    .await?;
    if !response.is_success() {
        return Err(sent.scrub(refusal(
            &url,
            &response,
            "token_exchange",
            "from the identity provider's token endpoint without an OAuth error",
        )));
    }
    let raw: RawExchangeResponse =
        parse_json(&url, "token exchange response", &response.body).map_err(|e| sent.scrub(e))?;
    let bad = |reason: String| Error::InvalidIdJag {
        idp: idp.issuer.clone(),
        reason,
    };
    match raw.issued_token_type.as_deref() {
        Some(ID_JAG_TYPE) => {}
        Some(other) if other.len() <= 80 && other.is_ascii() => {
            return Err(bad(format!(
            "the identity provider issued a token of type {other}, not an ID-JAG ({ID_JAG_TYPE})"
        )))
        }
        Some(_) => {
            return Err(bad(
                "the identity provider issued a token of another type".into()
            ))
        }
        None => return Err(bad(
            "the token exchange response has no issued_token_type (RFC 8693 §2.2.1 requires it)"
                .into(),
        )),
    }
    check_id_jag(&raw.access_token, request, now).map_err(bad)?;
    Ok(Assertion::new(raw.access_token))
}

/// Checks what the client can see of an ID-JAG: a JWT typed
/// `oauth-id-jag+jwt`, for `request.audience` and `request.resource`, not
/// expired. The signature is the authorization server's to check. The reason
/// never quotes the token.
pub fn check_id_jag(
    token: &str,
    request: IdJagRequest<'_>,
    now: i64,
) -> std::result::Result<(), String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err("it is not a JWT (three base64url parts separated by dots)".into());
    }
    let decode = |part: &str, what: &str| -> std::result::Result<serde_json::Value, String> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|_| format!("its {what} is not base64url"))?;
        match serde_json::from_slice(&bytes) {
            Ok(v @ serde_json::Value::Object(_)) => Ok(v),
            _ => Err(format!("its {what} is not a JSON object")),
        }
    };
    let header = decode(parts[0], "header")?;
    let claims = decode(parts[1], "payload")?;
    let typ = header
        .get("typ")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    if !typ.eq_ignore_ascii_case(ID_JAG_TYP) {
        return Err(format!(
            "its typ header is {}, not {ID_JAG_TYP}",
            if typ.is_empty() {
                "missing".to_string()
            } else {
                shown(typ)
            }
        ));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(serde_json::Value::String(a)) => vec![a.as_str()],
        Some(serde_json::Value::Array(list)) => list.iter().filter_map(|a| a.as_str()).collect(),
        _ => Vec::new(),
    };
    if !audiences
        .iter()
        .any(|a| crate::discovery::same_issuer(a, request.audience))
    {
        return Err(format!(
            "it is for {}, not for the authorization server {} (aud); the identity provider \
             may not federate with that server: ask your administrator",
            if audiences.is_empty() {
                "no audience".to_string()
            } else {
                audiences
                    .iter()
                    .map(|a| shown(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            request.audience
        ));
    }
    if let Some(resource) = claims.get("resource").and_then(|r| r.as_str()) {
        if resource != request.resource {
            return Err(format!(
                "it is for the resource {}, not {}",
                shown(resource),
                request.resource
            ));
        }
    }
    match claims.get("exp").and_then(serde_json::Value::as_i64) {
        Some(exp) if exp + CLOCK_SKEW_SECS < now => Err(format!(
            "it expired {} s ago (exp {exp}); the identity provider's clock or this machine's is wrong",
            now - exp
        )),
        Some(_) => Ok(()),
        None => Err("it has no exp claim (the ID-JAG profile requires one)".into()),
    }
}

/// A claim the server chose, shown in an error only when it looks like an
/// identifier (it could be anything, a token included).
fn shown(value: &str) -> String {
    if value.len() <= 200 && value.bytes().all(|b| b.is_ascii_graphic()) {
        value.to_string()
    } else {
        "a value MCP Auth does not show".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &str, claims: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2ln", b64(header), b64(claims))
    }

    const H: &str = r#"{"alg":"ES256","typ":"oauth-id-jag+jwt"}"#;

    fn request() -> IdJagRequest<'static> {
        IdJagRequest {
            audience: "https://as.example",
            resource: "https://mcp.example/mcp",
            scope: None,
        }
    }

    #[test]
    fn an_id_jag_for_this_server_and_resource_passes() {
        let ok = jwt(
            H,
            r#"{"aud":"https://as.example","resource":"https://mcp.example/mcp","exp":1000}"#,
        );
        assert_eq!(check_id_jag(&ok, request(), 999), Ok(()));
        // An issuer written with a trailing slash is the same issuer.
        let slash = jwt(H, r#"{"aud":["https://as.example/"],"exp":1000}"#);
        assert_eq!(check_id_jag(&slash, request(), 999), Ok(()));
    }

    #[test]
    fn what_the_authorization_server_would_refuse_is_named() {
        for (token, why) in [
            (
                jwt(
                    r#"{"alg":"ES256","typ":"JWT"}"#,
                    r#"{"aud":"https://as.example","exp":9}"#,
                ),
                "typ header is JWT",
            ),
            (
                jwt(
                    r#"{"alg":"ES256"}"#,
                    r#"{"aud":"https://as.example","exp":9}"#,
                ),
                "typ header is missing",
            ),
            (
                jwt(H, r#"{"aud":"https://other.example","exp":9}"#),
                "for https://other.example, not for the authorization server https://as.example",
            ),
            (jwt(H, r#"{"exp":9}"#), "for no audience"),
            (
                jwt(
                    H,
                    r#"{"aud":"https://as.example","resource":"https://x.example","exp":9}"#,
                ),
                "resource https://x.example",
            ),
            (
                jwt(H, r#"{"aud":"https://as.example","exp":1}"#),
                "expired 99 s ago",
            ),
            (jwt(H, r#"{"aud":"https://as.example"}"#), "no exp"),
            ("a.b".to_string(), "not a JWT"),
            (jwt(H, "[1]"), "payload is not a JSON object"),
        ] {
            let reason = check_id_jag(&token, request(), 100).expect_err(why);
            assert!(reason.contains(why), "{why}: {reason}");
        }
    }

    #[test]
    fn a_hostile_claim_is_not_echoed() {
        let token = jwt(H, r#"{"aud":"eyJhbGciOiJub25lIn0.secret\u0000","exp":9}"#);
        let reason = check_id_jag(&token, request(), 1).expect_err("wrong audience");
        assert!(
            reason.contains("a value MCP Auth does not show"),
            "{reason}"
        );
        assert!(!reason.contains("secret"), "{reason}");
    }
}
