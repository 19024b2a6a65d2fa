//! The device authorization grant (RFC 8628) against answers oidc-provider
//! never gives (it sends no `slow_down`, no hostile user code, no 503): a
//! scripted HTTP client that answers in order and records when each request
//! came. The flow against the real server is in crates/cli/tests/device.rs.

mod support;

use std::time::{Duration, Instant};

use mcpauth_core::device::{
    request_device_authorization, wait_for_device_tokens, DEVICE_CODE_GRANT,
};
use mcpauth_core::metadata::AuthorizationServerMetadata;
use mcpauth_core::registration::{ClientAuth, ClientRegistration};
use mcpauth_core::scopes::Scopes;
use mcpauth_core::Error;
use support::Scripted;

const ISSUER: &str = "https://as.example";
const RESOURCE: &str = "https://mcp.example/mcp";

fn metadata(device: bool) -> AuthorizationServerMetadata {
    let mut m = AuthorizationServerMetadata::legacy_defaults(ISSUER);
    m.device_authorization_endpoint = device.then(|| format!("{ISSUER}/device/auth"));
    m
}

fn client() -> ClientRegistration {
    ClientRegistration::pre_registered(ISSUER, "device-client", ClientAuth::None)
}

fn authorization(interval: u64, expires_in: u64) -> String {
    format!(
        r#"{{"device_code":"dc-secret-0123456789","user_code":"WDJB-MJHT",
            "verification_uri":"{ISSUER}/device","verification_uri_complete":"{ISSUER}/device?user_code=WDJB-MJHT",
            "expires_in":{expires_in},"interval":{interval}}}"#
    )
}

const PENDING: (u16, &str) = (400, r#"{"error":"authorization_pending"}"#);
const SLOW_DOWN: (u16, &str) = (400, r#"{"error":"slow_down"}"#);
const TOKENS: (u16, &str) = (
    200,
    r#"{"access_token":"at-device","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-device","scope":"mcp:read"}"#,
);

#[tokio::test]
async fn polls_at_the_interval_slows_down_by_five_seconds_and_gets_the_grant() {
    let auth_answer = authorization(1, 60);
    let http = Scripted::new(&[(200, &auth_answer), PENDING, SLOW_DOWN, TOKENS]);
    let scopes = Scopes::parse("mcp:read");
    let code =
        request_device_authorization(&http, &metadata(true), &client(), RESOURCE, Some(&scopes))
            .await
            .expect("device authorization");
    assert_eq!(code.user_code, "WDJB-MJHT");
    assert_eq!(code.interval, Duration::from_secs(1));
    assert!(
        !format!("{code:?}").contains("dc-secret"),
        "Debug hides the device code"
    );
    let asked = http.body(0);
    assert!(
        asked.contains("resource=https%3A%2F%2Fmcp.example%2Fmcp")
            && asked.contains("scope=mcp%3Aread"),
        "{asked}"
    );
    assert!(asked.contains("client_id=device-client"), "{asked}");

    let tokens = wait_for_device_tokens(&http, &metadata(true), &client(), &code)
        .await
        .expect("granted");
    assert_eq!(tokens.access_token.secret(), "at-device");
    assert_eq!(
        tokens.refresh_token.as_ref().map(|t| t.secret()),
        Some("rt-device")
    );

    let seen = http.requests();
    assert_eq!(
        seen.len(),
        4,
        "one device authorization, three token requests"
    );
    let poll = http.body(1);
    assert!(
        poll.contains(&format!(
            "grant_type={}",
            DEVICE_CODE_GRANT.replace(':', "%3A")
        )) && poll.contains("device_code=dc-secret-0123456789")
            && poll.contains("resource="),
        "{poll}"
    );
    let gap = |a: usize, b: usize| seen[b].0.duration_since(seen[a].0);
    assert!(
        gap(1, 2) >= Duration::from_secs(1),
        "the interval: {:?}",
        gap(1, 2)
    );
    assert!(
        gap(2, 3) >= Duration::from_secs(6),
        "after slow_down, 1 + 5 s: {:?}",
        gap(2, 3)
    );
}

#[tokio::test]
async fn a_busy_server_is_polled_more_slowly_not_given_up_on() {
    let auth_answer = authorization(1, 60);
    let http = Scripted::new(&[
        (200, &auth_answer),
        (503, r#"{"error":"temporarily_unavailable"}"#),
        TOKENS,
    ]);
    let code = request_device_authorization(&http, &metadata(true), &client(), RESOURCE, None)
        .await
        .expect("device authorization");
    wait_for_device_tokens(&http, &metadata(true), &client(), &code)
        .await
        .expect("granted after the server recovered");
    let seen = http.requests();
    assert!(
        seen[2].0.duration_since(seen[1].0) >= Duration::from_secs(2),
        "the interval doubled after a 503"
    );
}

#[tokio::test]
async fn denied_and_expired_codes_end_the_wait_with_what_happened() {
    let auth_answer = authorization(1, 60);
    for (answer, expected) in [
        ((400, r#"{"error":"access_denied"}"#), "declined"),
        ((400, r#"{"error":"expired_token"}"#), "expired after 60 s"),
    ] {
        let http = Scripted::new(&[(200, &auth_answer), answer]);
        let code = request_device_authorization(&http, &metadata(true), &client(), RESOURCE, None)
            .await
            .expect("device authorization");
        let error = wait_for_device_tokens(&http, &metadata(true), &client(), &code)
            .await
            .expect_err("no grant");
        assert!(
            matches!(
                error,
                Error::DeviceDenied { .. } | Error::DeviceCodeExpired { .. }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains(expected), "{error}");
        assert!(error.to_string().contains("nothing was stored"), "{error}");
    }
}

#[tokio::test]
async fn the_code_runs_out_on_our_side_too() {
    // A server that answers authorization_pending for ever, codes valid 2 s.
    let auth_answer = authorization(1, 2);
    let http = Scripted::new(&[(200, &auth_answer), PENDING, PENDING, PENDING]);
    let code = request_device_authorization(&http, &metadata(true), &client(), RESOURCE, None)
        .await
        .expect("device authorization");
    let started = Instant::now();
    let error = wait_for_device_tokens(&http, &metadata(true), &client(), &code)
        .await
        .expect_err("expired");
    assert!(
        matches!(error, Error::DeviceCodeExpired { seconds: 2, .. }),
        "{error:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(http.requests().len() <= 4, "polling stopped at the expiry");
}

#[tokio::test]
async fn what_a_terminal_would_misread_is_refused_and_nothing_is_polled() {
    let cases = [
        (
            r#"{"device_code":"dc","user_code":"AB\u001b[2JCD","verification_uri":"https://as.example/device","expires_in":600}"#,
            "control characters",
        ),
        (
            r#"{"device_code":"dc","user_code":"WDJB-MJHT","verification_uri":"javascript:alert(1)","expires_in":600}"#,
            "verification_uri",
        ),
        (
            r#"{"device_code":"dc","user_code":"WDJB-MJHT","verification_uri":"http://as.example/device","expires_in":600}"#,
            "verification_uri",
        ),
        (
            r#"{"device_code":"dc","user_code":"WDJB-MJHT","verification_uri":"https://as.example/device","expires_in":0}"#,
            "expires_in",
        ),
        (
            r#"{"device_code":"","user_code":"WDJB-MJHT","verification_uri":"https://as.example/device","expires_in":600}"#,
            "device_code",
        ),
    ];
    for (answer, reason) in cases {
        let http = Scripted::new(&[(200, answer)]);
        let error = request_device_authorization(&http, &metadata(true), &client(), RESOURCE, None)
            .await
            .expect_err(answer);
        assert!(
            matches!(error, Error::InvalidDeviceAuthorization { .. }),
            "{answer}: {error:?}"
        );
        assert!(error.to_string().contains(reason), "{answer}: {error}");
        assert_eq!(http.requests().len(), 1, "nothing after the refusal");
    }
}

#[tokio::test]
async fn a_server_without_the_device_flow_gets_no_request() {
    let http = Scripted::new(&[]);
    let error = request_device_authorization(&http, &metadata(false), &client(), RESOURCE, None)
        .await
        .expect_err("no endpoint");
    assert!(
        error.to_string().contains("device_authorization_endpoint"),
        "{error}"
    );
    let mut offered = metadata(true);
    offered.grant_types_supported = Some(vec!["authorization_code".into()]);
    let error = request_device_authorization(&http, &offered, &client(), RESOURCE, None)
        .await
        .expect_err("not offered");
    assert!(error.to_string().contains("nothing was sent"), "{error}");
    assert!(http.requests().is_empty());
}

#[tokio::test]
async fn a_server_that_forgets_an_expired_code_is_read_as_expiry_only_near_the_end() {
    // oidc-provider drops an expired code and answers invalid_grant.
    const FORGOTTEN: (u16, &str) = (
        400,
        r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
    );
    let near_the_end = authorization(1, 2);
    let http = Scripted::new(&[(200, &near_the_end), PENDING, FORGOTTEN]);
    let code = request_device_authorization(&http, &metadata(true), &client(), RESOURCE, None)
        .await
        .expect("device authorization");
    let error = wait_for_device_tokens(&http, &metadata(true), &client(), &code)
        .await
        .expect_err("expired");
    assert!(
        matches!(error, Error::DeviceCodeExpired { .. }),
        "{error:?}"
    );

    // Early in the code's life, invalid_grant is the server's own refusal.
    let early = authorization(1, 600);
    let http = Scripted::new(&[(200, &early), FORGOTTEN]);
    let code = request_device_authorization(&http, &metadata(true), &client(), RESOURCE, None)
        .await
        .expect("device authorization");
    let error = wait_for_device_tokens(&http, &metadata(true), &client(), &code)
        .await
        .expect_err("refused");
    assert_eq!(error.oauth_error(), Some("invalid_grant"), "{error:?}");
}
