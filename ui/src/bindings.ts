// Generated from src-tauri/src/dto.rs by `cargo test -p mcpauth-app` with UPDATE_BINDINGS=1. Do not edit.

export type AppError = { kind: string, message: string, 
/**
 * For a failed discovery: the step that failed (as in [`DiscoveryStep::name`]).
 */
step?: string, };

export type StatusView = { 
/**
 * active, refreshing, needs_sign_in, upgrading, error, signed_out
 */
state: string, expires_at: number | null, reason: string | null, retry_at: number | null, };

export type AssertionSourceView = { 
/**
 * `file` or `env` (workload identity), or `idp` (enterprise-managed, SEP-990)
 */
kind: string, 
/**
 * The file's path, the environment variable's name, or the identity
 * provider's issuer.
 */
name: string, 
/**
 * For `idp`: MCP Auth's client id at the identity provider.
 */
idp_client_id: string | null, 
/**
 * For `idp`: where the ID token comes from: `sign-in` (MCP Auth's own,
 * in the keyring), `file` or `env`.
 */
id_token_kind: string | null, 
/**
 * For an `idp` ID token in a file or variable: its path or name.
 */
id_token_name: string | null, };

export type AccountView = { id: string, name: string, 
/**
 * user or machine
 */
kind: string, server_url: string, resource: string, issuer: string, subject: string | null, client_id: string, 
/**
 * pre_registered, metadata_document or dynamic
 */
registration: string, client_auth: string, status: StatusView, granted_scopes: Array<string>, offered_scopes: Array<string>, requested_scopes: Array<string>, token_type: string, expires_at: number | null, issued_at: number | null, last_refresh_at: number | null, next_refresh_at: number | null, has_refresh_token: boolean, 
/**
 * The account whose sign-in this one shares (its refresh token, asked
 * for this account's server: RFC 8707 §2.2).
 */
grant_holder: string | null, is_default: boolean, 
/**
 * Workload identity (JWT bearer): where each token request reads the
 * platform's JWT.
 */
assertion_source: AssertionSourceView | null, };

export type ExchangeView = { method: string, url: string, request_headers: Array<[string, string]>, request_body: string | null, status: number | null, response_headers: Array<[string, string]>, response_body: string | null, error: string | null, ms: number, };

export type ActivityView = { at: number, kind: string, summary: string, error: string | null, error_description: string | null, 
/**
 * The step's HTTP requests and answers, secrets already replaced by `[redacted]`.
 */
exchanges: Array<ExchangeView>, };

export type AccountDetail = { account: AccountView, activity: Array<ActivityView>, 
/**
 * The access token's first characters and `****`.
 */
token_masked: string | null, 
/**
 * The token's audience, when it is a JWT.
 */
audience: string | null, };

export type DiscoveryStep = { name: string, detail: string, 
/**
 * False when the server published nothing for this step and defaults
 * stand in (a 2025-03-26 server's missing resource metadata).
 */
found: boolean, };

export type DiscoveryStepEvent = { 
/**
 * The id the front end gave its `discover` call.
 */
request: string, 
/**
 * 0 for the first step.
 */
index: number, step: DiscoveryStep, };

export type DiscoveryPreview = { mcp_url: string, resource: string, resource_metadata_url: string | null, authorization_servers: Array<string>, issuer: string, metadata_url: string | null, 
/**
 * The registration the sign-in will use: pre_registered, metadata_document or dynamic.
 */
registration: string, offered_scopes: Array<string>, 
/**
 * The scopes the server's challenge asked for (pre-ticked).
 */
challenged_scopes: Array<string>, legacy: boolean, 
/**
 * Every step, in order, with what it found.
 */
steps: Array<DiscoveryStep>, 
/**
 * The accounts already signed in to this server (ids), so that a second
 * one is made on purpose only.
 */
existing_accounts: Array<string>, 
/**
 * The accounts at the same authorization server whose sign-in could
 * add this server without a browser (RFC 8707 §2.2), newest first.
 */
share_offers: Array<ShareOfferView>, };

export type SignInOptions = { mcp_url: string, name: string | null, scopes: Array<string>, 
/**
 * loopback or deep_link
 */
redirect: string, client_id: string | null, 
/**
 * Read straight into the redacting newtype: `Debug` never shows it.
 */
client_secret: string | null, authorization_server: string | null, 
/**
 * Re-authorize this account instead of adding one.
 */
account: string | null, };

export type SignInStarted = { id: string, authorization_server_host: string, redirect_uri: string, scopes: Array<string>, 
/**
 * How the browser was opened, or why it could not be.
 */
browser: string, authorization_url: string, };

export type SignInFinished = { id: string | null, account: AccountView | null, error: string | null, };

export type SignInProgress = { started: SignInStarted, 
/**
 * "add", "reauth" or "upgrade".
 */
purpose: string, 
/**
 * The account signed in again or upgraded.
 */
account_id: string | null, 
/**
 * Its granted scopes when the sign-in started.
 */
before: Array<string>, 
/**
 * The scopes asked for.
 */
asked: Array<string>, server_url: string, };

export type MissedFinish = { progress: SignInProgress | null, event: SignInFinished, };

export type WindowState = { sign_ins: Array<SignInProgress>, finished: Array<MissedFinish>, };

export type UpgradeResult = { 
/**
 * Granted by refresh; otherwise a browser sign-in was started.
 */
granted: boolean, account: AccountView | null, sign_in: SignInStarted | null, reason: string | null, };

export type SignOutResult = { account: string, revocation_supported: boolean, refresh_token: string, access_token: string, fully_revoked: boolean, 
/**
 * The accounts that shared this account's sign-in: each now needs one
 * of its own.
 */
shared_ended: Array<string>, };

export type ShareOfferView = { account_id: string, 
/**
 * Why its sign-in cannot serve this server, when it cannot.
 */
unavailable: string | null, 
/**
 * What the authorization server answered the last time it was asked
 * to accept this account's client's refresh token for another server:
 * "accepted", "refused", or null when it never was.
 */
answered_before: string | null, 
/**
 * The authorization server's answer then, in words.
 */
detail: string | null, };

export type SharedSignInResult = { 
/**
 * The new account, when the authorization server accepted.
 */
account: AccountView | null, 
/**
 * The account whose sign-in was offered, as it is now: after a
 * refusal it may need a sign-in of its own (some servers spend the
 * refresh token as they refuse).
 */
holder: AccountView, 
/**
 * The authorization server's refusal, and what it cost, in words.
 */
refused: string | null, };

export type MachineAccountOptions = { mcp_url: string, name: string | null, client_id: string, client_secret: string | null, 
/**
 * A PEM or JWK private key's text (read into the redacting newtype).
 */
private_key: string | null, signing_alg: string | null, scopes: Array<string>, 
/**
 * Tokens from ID-JAGs of this identity provider (organisation sign-in,
 * SEP-990) instead of client credentials; the client above then
 * authenticates the JWT bearer grant.
 */
idp?: IdentityProvider, };

export type IdentityProvider = { issuer: string, client_id: string, };

export type IdentityProviderOptions = { issuer: string, client_id: string, 
/**
 * For a confidential client at the IdP: kept in the keyring.
 */
client_secret: string | null, };

export type IdentityProviderView = { issuer: string, client_id: string, 
/**
 * Who MCP Auth's sign-in there names (email, else subject); `null` when
 * it holds none that can be used or renewed.
 */
signed_in_as: string | null, 
/**
 * The ID token's expiry (Unix seconds); renewed with the refresh token.
 */
expires_at: number | null, 
/**
 * Where the ID token comes from when it is not MCP Auth's sign-in there
 * ("the file …", "the environment variable …", set with `mcpauth login
 * --idp --id-token-file/--id-token-env`); `null` for MCP Auth's own.
 */
id_token_from: string | null, 
/**
 * The servers whose accounts get their tokens through it.
 */
servers: Array<string>, };

export type IdpSignInStarted = { issuer: string, authorization_url: string, 
/**
 * "opened with …", or why no browser opened.
 */
browser: string, };

export type ExportPreview = { target: string, path: string, diff: string, unchanged: boolean, 
/**
 * The command the entry runs: mcpauth's absolute path, or `mcpauth` when
 * it was found neither beside the app nor on PATH.
 */
command: string, 
/**
 * False when the command was not found (the entry would not start).
 */
command_found: boolean, };

export type ImportCandidateView = { source: string, name: string, url: string, config_path: string, signed_in: boolean, };

export type Settings = { 
/**
 * loopback or deep_link
 */
redirect: string, client_metadata_url: string | null, 
/**
 * The smallest refresh margin, in seconds (applies from the next start).
 */
refresh_skew_secs: number, 
/**
 * Start (in the tray) when the user logs in. Read from and written to the
 * system's login items, not only this file.
 */
start_at_login: boolean, 
/**
 * The identity providers signed in at from Settings. Only the commands
 * for them change this list; `set_settings` keeps it as it is.
 */
identity_providers?: Array<IdentityProvider>, };

export type AppInfo = { version: string, storage_backend: string, home: string, };

export type SignInLink = { url: string, scopes: Array<string>, };

export type VaultChange = { 
/**
 * `changed` (anything, maybe another process), `refreshed`, `needs_sign_in`, `failed`.
 */
kind: string, account: string | null, 
/**
 * Why, for `needs_sign_in` and `failed`.
 */
message: string | null, };

export type StartupMark = { name: string, at: number, };
