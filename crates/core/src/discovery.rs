//! Finding the authorization server for an MCP server (SPEC §1): the probe,
//! protected resource metadata (RFC 9728), authorization server metadata
//! (RFC 8414 and OpenID Connect Discovery, path-aware order) and the
//! 2025-03-26 fallbacks.
//!
//! Candidate URLs of one step are fetched concurrently, but the answer is
//! always the first candidate in the order the specification gives.

use std::future::Future;

use futures::stream::{FuturesOrdered, StreamExt};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::challenge::{bearer_challenges, BearerChallenge};
use crate::error::{Error, Result};
use crate::http::{
    ensure_secure, get_metadata, get_metadata_with, parse_json, parse_secure, parse_url,
    send_following, HttpClient, HttpRequest,
};
use crate::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};

/// The protocol revision the probe's `initialize` asks for.
pub const PROBE_PROTOCOL_VERSION: &str = "2025-11-25";
/// The revision of the probe's second form, for servers that have no `initialize`.
pub const PROBE_MODERN_PROTOCOL_VERSION: &str = "2026-07-28";

/// Which request drew the answer the probe reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeForm {
    /// An MCP `initialize` POST (Streamable HTTP, 2025-03-26 to 2025-11-25).
    Initialize,
    /// A `server/discover` POST in the 2026-07-28 form (no handshake).
    Discover,
    /// A GET of the event stream (HTTP+SSE, 2024-11-05).
    LegacySse,
}

/// What the MCP server said to an unauthenticated request.
#[derive(Debug, Clone)]
pub struct Probe {
    pub status: u16,
    pub challenges: Vec<BearerChallenge>,
    pub form: ProbeForm,
    /// The `Mcp-Session-Id` a server that answered the `initialize` opened
    /// (the probe has already closed it).
    pub session_id: Option<String>,
    /// Where the server answered, when a same-origin 307/308 moved the
    /// request from the URL given (the endpoint to use from then on).
    pub moved_to: Option<Url>,
}

impl Probe {
    /// A challenge the caller already received (the proxy sees them on any message).
    pub fn from_challenge(status: u16, challenge: BearerChallenge) -> Self {
        Self {
            status,
            challenges: vec![challenge],
            form: ProbeForm::Initialize,
            session_id: None,
            moved_to: None,
        }
    }

    fn of(form: ProbeForm, response: &crate::http::HttpResponse) -> Self {
        Self {
            status: response.status,
            challenges: bearer_challenges(response.header_all("www-authenticate")),
            form,
            session_id: response
                .is_success()
                .then(|| response.header("mcp-session-id"))
                .flatten()
                .filter(|s| {
                    !s.is_empty()
                        && s.len() <= 1024
                        && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
                })
                .map(str::to_string),
            moved_to: None,
        }
    }

    fn answered(&self) -> bool {
        matches!(self.status, 200..=299 | 401 | 403)
    }
}

impl ProbeForm {
    /// What the request was, for messages ("an MCP initialize request").
    pub fn noun(self) -> &'static str {
        match self {
            Self::Initialize => "initialize request",
            Self::Discover => "server/discover request",
            Self::LegacySse => "event stream request (HTTP+SSE)",
        }
    }
}

fn initialize_probe(mcp_url: &Url) -> HttpRequest {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": PROBE_PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcpauth", "version": env!("CARGO_PKG_VERSION")}
        }
    });
    HttpRequest::post_json(mcp_url.clone(), &body)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", PROBE_PROTOCOL_VERSION)
        .header("mcp-method", "initialize")
}

/// The 2026-07-28 form: every request carries its version and capabilities (SEP-2575).
fn discover_probe(mcp_url: &Url) -> HttpRequest {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": 0,
        "method": "server/discover",
        "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": PROBE_MODERN_PROTOCOL_VERSION,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "mcpauth", "version": env!("CARGO_PKG_VERSION")}
        }}
    });
    HttpRequest::post_json(mcp_url.clone(), &body)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", PROBE_MODERN_PROTOCOL_VERSION)
        .header("mcp-method", "server/discover")
}

/// Asks the MCP server, without a token, for its challenges (SPEC §1.1, §6): an
/// `initialize` first; a server that refuses it (400, 404, 405) is asked again
/// in the 2026-07-28 form, then as a legacy HTTP+SSE server (a GET of its event
/// stream, headers only). The first of these that is answered (2xx, 401, 403)
/// is the result; otherwise the `initialize` answer is.
pub async fn probe(http: &dyn HttpClient, given: &Url) -> Result<Probe> {
    // 307 and 308 keep the method and body (an endpoint that moved, or one
    // that wants its trailing slash): the request goes again, unchanged, to
    // the new URL, which is kept. Another origin is refused: the token would
    // follow it there.
    let (endpoint, response) = send_following(
        http,
        given,
        initialize_probe,
        |status| matches!(status, 307 | 308),
        "the MCP server sends its requests to another origin; if you trust it, use that URL instead",
    )
    .await?;
    let moved_to = (&endpoint != given).then(|| endpoint.clone());
    let mcp_url = &endpoint;
    let mut found = probe_forms(http, mcp_url, Probe::of(ProbeForm::Initialize, &response)).await?;
    found.moved_to = moved_to;
    Ok(found)
}

/// The other request forms, when the `initialize` answer was not the challenge.
async fn probe_forms(http: &dyn HttpClient, mcp_url: &Url, first: Probe) -> Result<Probe> {
    if first.answered() || !matches!(first.status, 400 | 404 | 405) {
        if let Some(session) = &first.session_id {
            close_session(http, mcp_url, session).await;
        }
        return Ok(first);
    }
    let modern = Probe::of(
        ProbeForm::Discover,
        &http.send(discover_probe(mcp_url)).await?,
    );
    if modern.answered() {
        return Ok(modern);
    }
    let get = HttpRequest::get(mcp_url.clone())
        .header("accept", "text/event-stream")
        .headers_only();
    let response = http.send(get).await?;
    let is_stream = response
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let legacy = Probe::of(ProbeForm::LegacySse, &response);
    if matches!(legacy.status, 401 | 403) || legacy.status / 100 == 2 && is_stream {
        return Ok(legacy);
    }
    Ok(first)
}

/// What an answer that is neither a challenge nor an MCP answer says, and
/// what an MCP server's URL usually looks like.
fn not_mcp_reason(status: u16, noun: &str) -> String {
    let found = match status {
        404 | 410 => "nothing is at this path".to_string(),
        405 => "this path does not take MCP's POST requests".to_string(),
        500..=599 => "the server failed; it may be down just now".to_string(),
        _ => "that is not how an MCP server answers".to_string(),
    };
    format!(
        "it answered HTTP {status} to an MCP {noun} ({found}). An MCP server's URL is usually \
         its endpoint, such as https://mcp.example.com/mcp (or …/sse for older servers): \
         check the address the server's documentation gives"
    )
}

/// Ends the session an answered probe opened (Streamable HTTP: DELETE with
/// the session id), so a server that signs in lazily keeps no stray session.
/// A server may refuse it (405); nothing more is owed then.
async fn close_session(http: &dyn HttpClient, mcp_url: &Url, session: &str) {
    let request = HttpRequest::delete(mcp_url.clone())
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", PROBE_PROTOCOL_VERSION)
        .headers_only();
    let _ = http.send(request).await;
}

/// Everything discovery learned, ready for registration and authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// The MCP server's endpoint: the URL as entered (or where a same-origin
    /// redirect of the probe moved it), used for every request and export.
    pub mcp_url: String,
    /// The `resource` value to send (RFC 8707): the PRM `resource` as published, or the canonical MCP URL.
    pub resource: String,
    /// The first `Bearer` challenge of the probe.
    pub challenge: Option<BearerChallenge>,
    pub resource_metadata_url: Option<String>,
    pub resource_metadata: Option<ProtectedResourceMetadata>,
    /// The issuer chosen (from the PRM, or the legacy base URL).
    pub issuer: String,
    /// Where the metadata came from; `None` when the legacy default endpoints were assumed.
    pub metadata_url: Option<String>,
    pub metadata: AuthorizationServerMetadata,
    /// True for a 2025-03-26 server without protected resource metadata.
    pub legacy: bool,
    /// The server answered the probe without a token and asks for one later
    /// (on a tool call, say): it publishes resource metadata, so it signs in.
    #[serde(default)]
    pub signs_in_lazily: bool,
    /// The probe's answer had a `DPoP` challenge (RFC 9449 §7.1).
    #[serde(default)]
    pub dpop_challenged: bool,
}

impl Discovery {
    /// True when the MCP server says it takes DPoP-bound tokens: a `DPoP`
    /// challenge (RFC 9449 §7.1), or resource metadata that lists DPoP
    /// algorithms or requires bound tokens (RFC 9449 §5.2 / RFC 9728 §2).
    /// An authorization server that offers DPoP is not enough: many MCP
    /// servers behind one take Bearer tokens only, and refuse a bound one.
    pub fn resource_accepts_dpop(&self) -> bool {
        self.dpop_challenged
            || self.resource_metadata.as_ref().is_some_and(|prm| {
                prm.dpop_bound_access_tokens_required
                    || prm
                        .dpop_signing_alg_values_supported
                        .as_ref()
                        .is_some_and(|algs| !algs.is_empty())
            })
    }

    /// The scopes offered: PRM `scopes_supported`, else the server's.
    pub fn offered_scopes(&self) -> Vec<String> {
        self.resource_metadata
            .as_ref()
            .and_then(|p| p.scopes_supported.clone())
            .or_else(|| self.metadata.scopes_supported.clone())
            .unwrap_or_default()
    }
}

/// Choices that change discovery.
#[derive(Debug, Clone, Default)]
pub struct DiscoverOptions {
    /// Use this authorization server when the resource lists several (RFC 9728 §7.6).
    pub authorization_server: Option<String>,
    /// The one used before (a re-authorization): kept while the resource still
    /// lists it; when it no longer does, the resource moved to another
    /// authorization server (SEP-2352) and the first listed one is used.
    pub preferred_authorization_server: Option<String>,
    /// The server's answer already at hand (a 401 or 403 the proxy received on
    /// some message): discovery starts from its challenge instead of probing.
    pub probe: Option<Probe>,
}

/// A discovery step that has just resolved, for a front end that shows them as
/// they come (the first error after the last one reported belongs to the next step).
#[derive(Debug, Clone)]
pub enum DiscoveryProgress {
    /// The MCP server answered the probe and asked for a token.
    Probed {
        status: u16,
        challenge: Option<BearerChallenge>,
    },
    /// The protected resource metadata was read (`None`: a server without one).
    ResourceMetadata {
        url: Option<String>,
        resource: String,
        authorization_servers: Vec<String>,
    },
    /// The authorization server's metadata was read and checked.
    AuthorizationServer {
        issuer: String,
        metadata_url: Option<String>,
    },
}

/// Runs the whole of SPEC §1 for an MCP server URL.
pub async fn discover(
    http: &dyn HttpClient,
    mcp_url: &str,
    options: &DiscoverOptions,
) -> Result<Discovery> {
    discover_reporting(http, mcp_url, options, &|_| {}).await
}

/// [`discover`], calling `report` as each step resolves.
pub async fn discover_reporting(
    http: &dyn HttpClient,
    mcp_url: &str,
    options: &DiscoverOptions,
    report: &(dyn Fn(DiscoveryProgress) + Send + Sync),
) -> Result<Discovery> {
    // No bearer token ever goes over cleartext to another host: an http://
    // MCP URL is refused before anything is sent, except on loopback.
    let given = parse_secure("MCP server URL", mcp_url)?;
    let probe = match &options.probe {
        Some(known) => known.clone(),
        None => probe(http, &given).await?,
    };
    // The endpoint is the URL as entered (trailing slash and all), or where a
    // same-origin redirect of the probe moved it; only `resource` is canonical.
    let url = probe.moved_to.clone().unwrap_or(given);
    let asked = match probe.status {
        401 | 403 => true,
        200..=299 => false,
        status => {
            return Err(Error::NotAnOAuthMcpServer {
                url: url.to_string(),
                reason: not_mcp_reason(status, probe.form.noun()),
            })
        }
    };
    let form = probe.form;
    // RFC 9449 §7.1: a resource server that takes DPoP-bound tokens says so
    // with a `DPoP` challenge (beside or instead of `Bearer`).
    let dpop_challenged = probe.challenges.iter().any(|c| c.dpop);
    let challenge = probe.challenges.into_iter().next();
    report(DiscoveryProgress::Probed {
        status: probe.status,
        challenge: challenge.clone(),
    });
    let hinted = challenge
        .as_ref()
        .and_then(|c| c.resource_metadata.as_deref());
    let resource_metadata = match fetch_resource_metadata(http, &url, hinted).await {
        Ok(found) => found,
        // A server that asked for nothing and has no readable metadata is open.
        Err(_) if !asked => None,
        Err(e) => return Err(e),
    };
    if !asked && resource_metadata.is_none() {
        return Err(Error::NotAnOAuthMcpServer {
            url: url.to_string(),
            reason: format!(
                "it answered an MCP {} without asking for a token and publishes no protected resource metadata, so it needs no sign-in",
                form.noun()
            ),
        });
    }
    match resource_metadata {
        Some((prm_url, prm)) => {
            let resource = check_resource(&prm_url, &prm, &url)?;
            let issuer = choose_issuer(&prm_url, &prm, options)?;
            report(DiscoveryProgress::ResourceMetadata {
                url: Some(prm_url.to_string()),
                resource: resource.clone(),
                authorization_servers: prm.authorization_servers.clone(),
            });
            let (metadata_url, metadata) =
                fetch_authorization_server_metadata(http, &issuer).await?;
            // The issuer is the metadata's own string (it differs from the
            // listed one at most by the "/" of an empty path, see same_issuer):
            // the authorization response's `iss` is compared with it exactly.
            let issuer = metadata.issuer.clone();
            report(DiscoveryProgress::AuthorizationServer {
                issuer: issuer.clone(),
                metadata_url: Some(metadata_url.to_string()),
            });
            Ok(Discovery {
                mcp_url: url.to_string(),
                resource,
                challenge,
                resource_metadata_url: Some(prm_url.to_string()),
                resource_metadata: Some(prm),
                issuer,
                metadata_url: Some(metadata_url.to_string()),
                metadata,
                legacy: false,
                signs_in_lazily: !asked,
                dpop_challenged,
            })
        }
        None => {
            report(DiscoveryProgress::ResourceMetadata {
                url: None,
                resource: canonical_resource(&url),
                authorization_servers: Vec::new(),
            });
            let (metadata_url, metadata) = legacy_metadata(http, &url).await?;
            report(DiscoveryProgress::AuthorizationServer {
                issuer: metadata.issuer.clone(),
                metadata_url: metadata_url.as_ref().map(|u| u.to_string()),
            });
            Ok(Discovery {
                mcp_url: url.to_string(),
                resource: canonical_resource(&url),
                challenge,
                resource_metadata_url: None,
                resource_metadata: None,
                issuer: metadata.issuer.clone(),
                metadata_url: metadata_url.map(|u| u.to_string()),
                metadata,
                legacy: true,
                signs_in_lazily: false,
                dpop_challenged,
            })
        }
    }
}

/// The canonical URI of a resource (SPEC §3.3): lowercase scheme and host, no
/// default port, no fragment, no trailing slash (an origin has no `/`).
pub fn canonical_resource(url: &Url) -> String {
    let mut out = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    let path = url.path().trim_end_matches('/');
    out.push_str(path);
    if let Some(query) = url.query() {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// The well-known PRM URLs in the order RFC 9728 §3.1 and SPEC §1.2 give.
pub fn resource_metadata_candidates(mcp_url: &Url) -> Vec<Url> {
    let path = mcp_url.path().trim_end_matches('/');
    let mut origin = mcp_url.clone();
    origin.set_query(None);
    origin.set_fragment(None);
    let mut out = Vec::new();
    if !path.is_empty() {
        let mut u = origin.clone();
        u.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
        out.push(u);
    }
    let mut u = origin;
    u.set_path("/.well-known/oauth-protected-resource");
    out.push(u);
    out
}

/// The well-known authorization server metadata URLs in the order SPEC §1.5 gives.
pub fn authorization_server_metadata_candidates(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let at = |p: String| {
        let mut u = issuer.clone();
        u.set_path(&p);
        u.set_query(None);
        u.set_fragment(None);
        u
    };
    if path.is_empty() {
        vec![
            at("/.well-known/oauth-authorization-server".into()),
            at("/.well-known/openid-configuration".into()),
        ]
    } else {
        vec![
            at(format!("/.well-known/oauth-authorization-server{path}")),
            at(format!("/.well-known/openid-configuration{path}")),
            at(format!("{path}/.well-known/openid-configuration")),
        ]
    }
}

/// What one well-known candidate URL gave.
enum Candidate<T> {
    Found(T),
    /// Not there (an error status): the next candidate is tried.
    Absent,
    /// There, but unusable (HTML, broken JSON, another issuer): skipped like
    /// an absent one, its reason kept for the error if nothing else is found.
    Skipped(Error),
}

/// Awaits the futures concurrently and returns the first found in their given
/// order. When none is found, the first skipped candidate's reason is the
/// error; when every candidate was absent, `None`.
async fn first_in_order<T, F>(futures: Vec<F>) -> Result<Option<T>>
where
    F: Future<Output = Result<Candidate<T>>>,
{
    let mut ordered: FuturesOrdered<F> = futures.into_iter().collect();
    let mut skipped = None;
    while let Some(result) = ordered.next().await {
        match result? {
            Candidate::Found(found) => return Ok(Some(found)),
            Candidate::Absent => {}
            Candidate::Skipped(reason) => {
                skipped.get_or_insert(reason);
            }
        }
    }
    skipped.map_or(Ok(None), Err)
}

/// A metadata document from a 2xx answer, or why it is not one.
fn metadata_document<T: serde::de::DeserializeOwned>(
    url: &Url,
    document: &'static str,
    response: &crate::http::HttpResponse,
) -> Result<T> {
    let content_type = response.header("content-type").unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let json_like = media.is_empty() || media.ends_with("json") || media.ends_with("+json");
    let body = response.body.trim_ascii_start();
    if !json_like && !body.starts_with(b"{") {
        return Err(Error::InvalidJson {
            url: url.to_string(),
            document,
            path: ".".into(),
            message: format!("the answer is `{media}`, not a JSON document"),
        });
    }
    parse_json(url, document, &response.body)
}

async fn fetch_resource_metadata(
    http: &dyn HttpClient,
    mcp_url: &Url,
    hinted: Option<&str>,
) -> Result<Option<(Url, ProtectedResourceMetadata)>> {
    if let Some(hinted) = hinted {
        // The challenge named the document: use it, and only it (RFC 9728 §5.1).
        let prm_url = parse_url(hinted)?;
        // A document that decides which authorization server gets the user's
        // credentials is not read over plain http from anywhere else than the
        // server the user chose (SPEC §5.1).
        if prm_url.origin() != mcp_url.origin() {
            ensure_secure("protected resource metadata URL", &prm_url)?;
        }
        let (final_url, response) = get_metadata(http, &prm_url).await?;
        if !response.is_success() {
            return Err(Error::HttpStatus {
                url: final_url.to_string(),
                status: response.status,
                what: "for the protected resource metadata named in the server's challenge",
            });
        }
        let prm = metadata_document(&final_url, "protected resource metadata", &response)?;
        return Ok(Some((prm_url, prm)));
    }
    let candidates = resource_metadata_candidates(mcp_url);
    let fetches = candidates
        .into_iter()
        .map(|candidate| async move {
            let (final_url, response) = get_metadata(http, &candidate).await?;
            if !response.is_success() {
                return Ok(Candidate::Absent);
            }
            Ok(
                match metadata_document(&final_url, "protected resource metadata", &response) {
                    Ok(prm) => Candidate::Found((candidate, prm)),
                    Err(reason) => Candidate::Skipped(reason),
                },
            )
        })
        .collect();
    first_in_order(fetches).await
}

/// RFC 9728 §3.3 / SPEC §1.3: the PRM must describe this server. Returns the
/// `resource` value to send, exactly as published.
///
/// The published resource may be the server URL itself or a path prefix of it on
/// the same origin (a server that protects a whole origin publishes the origin),
/// as the official MCP SDKs accept; anything else is refused.
fn check_resource(prm_url: &Url, prm: &ProtectedResourceMetadata, mcp_url: &Url) -> Result<String> {
    let mismatch = || Error::ResourceMismatch {
        metadata_url: prm_url.to_string(),
        expected: canonical_resource(mcp_url),
        found: prm.resource.clone(),
    };
    let published = Url::parse(&prm.resource).map_err(|_| mismatch())?;
    if published.origin() != mcp_url.origin()
        || published.query().is_some() && published.query() != mcp_url.query()
        || published.fragment().is_some()
    {
        return Err(mismatch());
    }
    let want = mcp_url.path().trim_end_matches('/');
    let have = published.path().trim_end_matches('/');
    let covers = want == have || want.starts_with(&format!("{have}/"));
    if !covers {
        return Err(mismatch());
    }
    Ok(prm.resource.clone())
}

fn choose_issuer(
    prm_url: &Url,
    prm: &ProtectedResourceMetadata,
    options: &DiscoverOptions,
) -> Result<String> {
    if prm.authorization_servers.is_empty() {
        return Err(Error::NoAuthorizationServer {
            metadata_url: prm_url.to_string(),
        });
    }
    match &options.authorization_server {
        None => Ok(options
            .preferred_authorization_server
            .as_ref()
            .and_then(|p| {
                prm.authorization_servers
                    .iter()
                    .find(|listed| same_issuer(listed, p))
            })
            .unwrap_or(&prm.authorization_servers[0])
            .clone()),
        Some(chosen) if prm.authorization_servers.contains(chosen) => Ok(chosen.clone()),
        Some(chosen) => Err(Error::UnlistedAuthorizationServer {
            chosen: chosen.clone(),
            listed: prm.authorization_servers.join(", "),
        }),
    }
}

/// True when `listed` (in resource metadata) names the authorization server
/// whose metadata says `issuer`: the same string, or, for an issuer with no
/// path, the same string with the "/" of an empty path. RFC 8414 §3.1 builds
/// the same well-known URL from both ("any terminating / is removed"), and
/// the official Python SDK publishes its `AnyHttpUrl` issuers with that "/";
/// any other difference is a mix-up and is refused (§3.3).
pub fn same_issuer(listed: &str, issuer: &str) -> bool {
    listed == issuer
        || listed.strip_suffix('/') == Some(issuer)
            && Url::parse(issuer).is_ok_and(|u| u.path() == "/" && !issuer.ends_with('/'))
}

/// Fetches and validates an authorization server's metadata (SPEC §1.5, §1.6, §1.8, §5.1).
pub async fn fetch_authorization_server_metadata(
    http: &dyn HttpClient,
    issuer: &str,
) -> Result<(Url, AuthorizationServerMetadata)> {
    let (url, metadata) = fetch_identity_provider_metadata(http, issuer).await?;
    validate_metadata(&metadata)?;
    Ok((url, metadata))
}

/// Fetches an organisation's identity provider's metadata (SEP-990) the same
/// way, without requiring PKCE: an IdP MCP Auth only exchanges ID tokens at
/// needs none, and a sign-in there checks for it when it starts.
pub async fn fetch_identity_provider_metadata(
    http: &dyn HttpClient,
    issuer: &str,
) -> Result<(Url, AuthorizationServerMetadata)> {
    let issuer_url = parse_url(issuer)?;
    ensure_secure("authorization server issuer", &issuer_url)?;
    if issuer_url.query().is_some() || issuer_url.fragment().is_some() {
        return Err(Error::InvalidUrl {
            input: issuer.to_string(),
            reason: "an issuer has no query or fragment (RFC 8414 §2)".into(),
        });
    }
    let candidates = authorization_server_metadata_candidates(&issuer_url);
    let tried = candidates
        .iter()
        .map(Url::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let fetches = candidates
        .into_iter()
        .map(|candidate| async move { fetch_one_metadata(http, &candidate, issuer).await })
        .collect();
    let found = first_in_order(fetches).await?;
    let (url, metadata) = found.ok_or_else(|| Error::MetadataNotFound {
        issuer: issuer.to_string(),
        tried,
    })?;
    validate_endpoints(&metadata)?;
    Ok((url, metadata))
}

async fn fetch_one_metadata(
    http: &dyn HttpClient,
    candidate: &Url,
    issuer: &str,
) -> Result<Candidate<(Url, AuthorizationServerMetadata)>> {
    let (final_url, response) = get_metadata(http, candidate).await?;
    if !response.is_success() {
        return Ok(Candidate::Absent);
    }
    let metadata: AuthorizationServerMetadata =
        match metadata_document(&final_url, "authorization server metadata", &response) {
            Ok(metadata) => metadata,
            Err(reason) => return Ok(Candidate::Skipped(reason)),
        };
    // Another issuer's document is never used (RFC 8414 §3.3), but the next
    // candidate in order may be this issuer's.
    if !same_issuer(issuer, &metadata.issuer) {
        return Ok(Candidate::Skipped(Error::IssuerMismatch {
            url: candidate.to_string(),
            expected: issuer.to_string(),
            found: metadata.issuer,
        }));
    }
    Ok(Candidate::Found((candidate.clone(), metadata)))
}

/// Endpoints must be https or loopback, and PKCE S256 must be advertised.
fn validate_metadata(metadata: &AuthorizationServerMetadata) -> Result<()> {
    validate_endpoints(metadata)?;
    if !metadata.supports_s256() {
        return Err(Error::PkceNotSupported {
            issuer: metadata.issuer.clone(),
            advertised: match &metadata.code_challenge_methods_supported {
                None => "absent".into(),
                Some(m) => format!("{m:?}"),
            },
        });
    }
    Ok(())
}

fn validate_endpoints(metadata: &AuthorizationServerMetadata) -> Result<()> {
    let endpoints: [(&'static str, Option<&String>); 6] = [
        (
            "authorization endpoint",
            Some(&metadata.authorization_endpoint),
        ),
        ("token endpoint", Some(&metadata.token_endpoint)),
        (
            "registration endpoint",
            metadata.registration_endpoint.as_ref(),
        ),
        ("revocation endpoint", metadata.revocation_endpoint.as_ref()),
        (
            "introspection endpoint",
            metadata.introspection_endpoint.as_ref(),
        ),
        ("userinfo endpoint", metadata.userinfo_endpoint.as_ref()),
    ];
    for (what, endpoint) in endpoints {
        if let Some(endpoint) = endpoint {
            let url = parse_url(endpoint)?;
            ensure_secure(what, &url)?;
        }
    }
    Ok(())
}

/// The revision a server without protected resource metadata speaks, sent
/// on its metadata request as that revision asks (2025-03-26, Authorization
/// §2.3.2: "MCP clients SHOULD include the header `MCP-Protocol-Version`").
const LEGACY_REVISION: &str = "2025-03-26";

/// SPEC §1.7: a 2025-03-26 server without protected resource metadata.
async fn legacy_metadata(
    http: &dyn HttpClient,
    mcp_url: &Url,
) -> Result<(Option<Url>, AuthorizationServerMetadata)> {
    let base = mcp_url.origin().ascii_serialization();
    let base_url = parse_url(&base)?;
    ensure_secure("authorization base URL", &base_url)?;
    let mut candidate = base_url.clone();
    candidate.set_path("/.well-known/oauth-authorization-server");
    let (final_url, response) = get_metadata_with(
        http,
        &candidate,
        &[("mcp-protocol-version", LEGACY_REVISION)],
    )
    .await?;
    if response.status == 404 {
        // No metadata: the 2025-03-26 default endpoints, for which that revision
        // made PKCE mandatory.
        let metadata = AuthorizationServerMetadata::legacy_defaults(&base);
        validate_metadata(&metadata)?;
        return Ok((None, metadata));
    }
    if !response.is_success() {
        return Err(Error::HttpStatus {
            url: final_url.to_string(),
            status: response.status,
            what: "for the authorization server metadata",
        });
    }
    let metadata: AuthorizationServerMetadata =
        metadata_document(&final_url, "authorization server metadata", &response)?;
    if !legacy_issuer_matches(&base_url, &metadata.issuer) {
        return Err(Error::IssuerMismatch {
            url: candidate.to_string(),
            expected: base,
            found: metadata.issuer,
        });
    }
    validate_metadata(&metadata)?;
    Ok((Some(candidate), metadata))
}

/// The issuer a 2025-03-26 server's root metadata may name: the server's
/// origin, or an issuer with a path on that same origin (the authorization
/// server mounted under `/oauth`, say). That revision read the metadata at the
/// origin whatever the issuer's path, so RFC 8414 §3.3's "issuer the URL was
/// built from" is the origin's; another origin is a mix-up and is refused. The
/// metadata's own `issuer` string is the one recorded for the `iss` check.
fn legacy_issuer_matches(base: &Url, issuer: &str) -> bool {
    let Ok(url) = Url::parse(issuer) else {
        return false;
    };
    url.origin() == base.origin()
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    #[test]
    fn an_issuer_matches_itself_and_only_the_slash_of_an_empty_path() {
        assert!(same_issuer("https://as.example", "https://as.example"));
        // What the Python SDK publishes for an issuer without a path.
        assert!(same_issuer("https://as.example/", "https://as.example"));
        assert!(!same_issuer("https://as.example", "https://as.example/"));
        assert!(!same_issuer(
            "https://as.example/t1/",
            "https://as.example/t1"
        ));
        assert!(!same_issuer("https://as.example//", "https://as.example/"));
        assert!(!same_issuer("https://evil.example/", "https://as.example"));
        assert!(!same_issuer("HTTPS://as.example", "https://as.example"));
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canonical_resource(&url("HTTPS://MCP.Example.COM:443/mcp/#frag")),
            "https://mcp.example.com/mcp"
        );
        assert_eq!(
            canonical_resource(&url("https://mcp.example.com")),
            "https://mcp.example.com"
        );
        assert_eq!(
            canonical_resource(&url("http://127.0.0.1:8080/a/b?x=1")),
            "http://127.0.0.1:8080/a/b?x=1"
        );
    }

    #[test]
    fn metadata_order_with_and_without_path() {
        let with_path: Vec<String> =
            authorization_server_metadata_candidates(&url("https://as.example/tenant1"))
                .into_iter()
                .map(String::from)
                .collect();
        assert_eq!(
            with_path,
            [
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/.well-known/openid-configuration/tenant1",
                "https://as.example/tenant1/.well-known/openid-configuration",
            ]
        );
        let root: Vec<String> =
            authorization_server_metadata_candidates(&url("https://as.example"))
                .into_iter()
                .map(String::from)
                .collect();
        assert_eq!(
            root,
            [
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn prm_order() {
        let c: Vec<String> = resource_metadata_candidates(&url("https://mcp.example/v1/mcp"))
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            c,
            [
                "https://mcp.example/.well-known/oauth-protected-resource/v1/mcp",
                "https://mcp.example/.well-known/oauth-protected-resource",
            ]
        );
    }

    #[test]
    fn resource_matching() {
        let prm_url = url("https://mcp.example/.well-known/oauth-protected-resource/mcp");
        let prm = |r: &str| ProtectedResourceMetadata {
            resource: r.into(),
            authorization_servers: vec![],
            scopes_supported: None,
            bearer_methods_supported: None,
            resource_name: None,
            dpop_signing_alg_values_supported: None,
            dpop_bound_access_tokens_required: false,
        };
        let mcp = url("https://mcp.example/mcp");
        assert_eq!(
            check_resource(&prm_url, &prm("https://mcp.example/mcp"), &mcp).ok(),
            Some("https://mcp.example/mcp".into())
        );
        // An origin-wide resource is kept exactly as published, without a slash added.
        assert_eq!(
            check_resource(&prm_url, &prm("https://mcp.example"), &mcp).ok(),
            Some("https://mcp.example".into())
        );
        for bad in [
            "https://evil.example/mcp",
            "https://mcp.example/other",
            "https://mcp.example/mc",
            "http://mcp.example/mcp",
            "https://mcp.example:8443/mcp",
            "not a url",
        ] {
            assert!(
                matches!(
                    check_resource(&prm_url, &prm(bad), &mcp),
                    Err(Error::ResourceMismatch { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn several_authorization_servers() {
        let prm_url = url("https://mcp.example/.well-known/oauth-protected-resource");
        let prm = ProtectedResourceMetadata {
            resource: "https://mcp.example/mcp".into(),
            authorization_servers: vec!["https://a.example".into(), "https://b.example".into()],
            scopes_supported: None,
            bearer_methods_supported: None,
            resource_name: None,
            dpop_signing_alg_values_supported: None,
            dpop_bound_access_tokens_required: false,
        };
        let pick = |choice: Option<&str>| {
            choose_issuer(
                &prm_url,
                &prm,
                &DiscoverOptions {
                    authorization_server: choice.map(str::to_string),
                    ..Default::default()
                },
            )
        };
        assert_eq!(pick(None).ok().as_deref(), Some("https://a.example"));
        assert_eq!(
            pick(Some("https://b.example")).ok().as_deref(),
            Some("https://b.example")
        );
        assert!(matches!(
            pick(Some("https://c.example")),
            Err(Error::UnlistedAuthorizationServer { .. })
        ));
        let empty = ProtectedResourceMetadata {
            authorization_servers: vec![],
            ..prm.clone()
        };
        assert!(matches!(
            choose_issuer(&prm_url, &empty, &DiscoverOptions::default()),
            Err(Error::NoAuthorizationServer { .. })
        ));
    }
}
