//! The token exchange for an ID-JAG (SEP-990) against answers a real identity
//! provider does not give: another token type, an ID-JAG for another server
//! or resource, an expired one, a refusal that echoes the ID token. The flow
//! against a real oidc-provider acting as the IdP is in
//! crates/cli/tests/idjag.rs; the suite's scenario in tests/conformance.

mod support;

use base64::Engine as _;
use mcpauth_core::idjag::{exchange_for_id_jag, IdJagRequest, TOKEN_EXCHANGE_GRANT};
use mcpauth_core::metadata::AuthorizationServerMetadata;
use mcpauth_core::registration::{ClientAuth, ClientRegistration};
use mcpauth_core::scopes::Scopes;
use mcpauth_core::secret::IdToken;
use mcpauth_core::Error;
use support::Scripted;

const IDP: &str = "https://idp.example";
const AS: &str = "https://as.example";
const RESOURCE: &str = "https://mcp.example/mcp";
const ID_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.id-token-signature";
const NOW: i64 = 1_000_000;

fn metadata(grants: Option<&[&str]>) -> AuthorizationServerMetadata {
    let mut m = AuthorizationServerMetadata::legacy_defaults(IDP);
    m.grant_types_supported = grants.map(|g| g.iter().map(|s| s.to_string()).collect());
    m
}

fn client() -> ClientRegistration {
    ClientRegistration::pre_registered(IDP, "mcpauth-at-idp", ClientAuth::None)
}

fn jwt(header: &str, claims: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!("{}.{}.jag-signature", b64(header), b64(claims))
}

fn id_jag(claims: &str) -> String {
    jwt(r#"{"alg":"ES256","typ":"oauth-id-jag+jwt"}"#, claims)
}

fn answer(token: &str, issued: &str) -> String {
    format!(
        r#"{{"access_token":"{token}","issued_token_type":"{issued}","token_type":"N_A","expires_in":300}}"#
    )
}

const JAG_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";

async fn exchange(
    http: &Scripted,
    m: &AuthorizationServerMetadata,
) -> mcpauth_core::Result<String> {
    let scopes = Scopes::parse("mcp:read");
    exchange_for_id_jag(
        http,
        m,
        &client(),
        &IdToken::new(ID_TOKEN),
        IdJagRequest {
            audience: AS,
            resource: RESOURCE,
            scope: Some(&scopes),
        },
        NOW,
    )
    .await
    .map(|a| a.secret().to_string())
}

#[tokio::test]
async fn asks_for_an_id_jag_for_the_server_and_hands_it_back() {
    let good = id_jag(&format!(
        r#"{{"aud":"{AS}","resource":"{RESOURCE}","exp":{}}}"#,
        NOW + 300
    ));
    let http = Scripted::new(&[(200, &answer(&good, JAG_TYPE))]);
    let got = exchange(&http, &metadata(Some(&[TOKEN_EXCHANGE_GRANT])))
        .await
        .expect("id-jag");
    assert_eq!(got, good);
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(http.body(0).as_bytes())
            .into_owned()
            .collect();
    for (field, value) in [
        ("grant_type", TOKEN_EXCHANGE_GRANT),
        ("requested_token_type", JAG_TYPE),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:id_token",
        ),
        ("subject_token", ID_TOKEN),
        ("audience", AS),
        ("resource", RESOURCE),
        ("scope", "mcp:read"),
        ("client_id", "mcpauth-at-idp"),
    ] {
        assert_eq!(
            form.get(field).map(String::as_str),
            Some(value),
            "{field} in {form:?}"
        );
    }
    assert_eq!(http.requests()[0].1.url.as_str(), format!("{IDP}/token"));
}

#[tokio::test]
async fn an_idp_without_token_exchange_is_not_asked() {
    let http = Scripted::new(&[]);
    let e = exchange(&http, &metadata(Some(&["authorization_code"])))
        .await
        .expect_err("not offered");
    assert!(e.to_string().contains("token exchange"), "{e}");
    assert!(http.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn what_the_authorization_server_would_refuse_is_not_handed_back() {
    let cases = [
        (
            answer(
                &id_jag(&format!(
                    r#"{{"aud":"https://other.example","exp":{}}}"#,
                    NOW + 300
                )),
                JAG_TYPE,
            ),
            "not for the authorization server https://as.example",
        ),
        (
            answer(
                &id_jag(&format!(
                    r#"{{"aud":"{AS}","resource":"https://x.example/mcp","exp":{}}}"#,
                    NOW + 300
                )),
                JAG_TYPE,
            ),
            "resource https://x.example/mcp",
        ),
        (
            answer(
                &id_jag(&format!(r#"{{"aud":"{AS}","exp":{}}}"#, NOW - 600)),
                JAG_TYPE,
            ),
            "expired 600 s ago",
        ),
        (
            answer(
                &jwt(
                    r#"{"alg":"ES256","typ":"at+jwt"}"#,
                    &format!(r#"{{"aud":"{AS}","exp":{}}}"#, NOW + 300),
                ),
                JAG_TYPE,
            ),
            "typ header is at+jwt",
        ),
        (
            answer(
                "opaque-access-token",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            "type urn:ietf:params:oauth:token-type:access_token, not an ID-JAG",
        ),
        (
            r#"{"access_token":"opaque","token_type":"Bearer"}"#.to_string(),
            "no issued_token_type",
        ),
    ];
    for (body, why) in cases {
        let http = Scripted::new(&[(200, &body)]);
        let e = exchange(&http, &metadata(None)).await.expect_err(why);
        assert!(matches!(e, Error::InvalidIdJag { .. }), "{why}: {e:?}");
        let text = e.to_string();
        assert!(
            text.contains(why) && text.contains("not sent to the authorization server"),
            "{why}: {text}"
        );
        assert!(
            !text.contains("jag-signature") && !text.contains("opaque"),
            "the token is not quoted: {text}"
        );
    }
}

#[tokio::test]
async fn a_refusal_is_the_idps_own_and_never_echoes_the_id_token() {
    let body = format!(
        r#"{{"error":"invalid_grant","error_description":"bad subject_token {ID_TOKEN}"}}"#
    );
    let http = Scripted::new(&[(400, &body)]);
    let e = exchange(&http, &metadata(None)).await.expect_err("refused");
    assert_eq!(e.oauth_error(), Some("invalid_grant"), "{e:?}");
    let text = e.to_string();
    assert!(
        !text.contains("id-token-signature"),
        "the ID token is scrubbed: {text}"
    );
}
