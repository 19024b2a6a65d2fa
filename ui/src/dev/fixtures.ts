// Sample backend data for the component tests and the mock page (mock.html).

import type {
  AccountDetail,
  AccountView,
  ActivityView,
  DiscoveryPreview,
  ImportCandidateView,
  SignInStarted,
  StatusView,
} from "../bindings";

// Times are relative to when the module loaded, so countdowns read naturally.
export const NOW = Math.floor(Date.now() / 1000);

export function status(over: Partial<StatusView> = {}): StatusView {
  return { state: "active", expires_at: NOW + 3000, reason: null, retry_at: null, ...over };
}

export function account(over: Partial<AccountView> = {}): AccountView {
  return {
    id: "a1b2c3d4",
    name: "https://mcp.example.com/mcp",
    kind: "user",
    server_url: "https://mcp.example.com/mcp",
    resource: "https://mcp.example.com/mcp",
    issuer: "https://auth.example.com",
    subject: "alice@example.com",
    client_id: "mcpauth-7f3a",
    registration: "dynamic",
    client_auth: "none",
    status: status(),
    granted_scopes: ["mcp:read"],
    offered_scopes: ["mcp:read", "mcp:write", "mcp:admin"],
    requested_scopes: ["mcp:read"],
    token_type: "Bearer",
    expires_at: NOW + 3000,
    issued_at: NOW - 600,
    last_refresh_at: NOW - 600,
    next_refresh_at: NOW + 2640,
    has_refresh_token: true,
    grant_holder: null,
    is_default: true,
    assertion_source: null,
    ...over,
  };
}

export function activity(over: Partial<ActivityView> = {}): ActivityView {
  return {
    at: NOW - 600,
    kind: "sign_in",
    summary: "Signed in as alice@example.com with scopes mcp:read",
    error: null,
    error_description: null,
    exchanges: [],
    ...over,
  };
}

export function detail(a: AccountView, over: Partial<AccountDetail> = {}): AccountDetail {
  return {
    account: a,
    activity: [
      activity({
        at: NOW - 60,
        kind: "refresh",
        summary: "Refreshed the access token (rotated refresh token)",
        exchanges: [
          {
            method: "POST",
            url: "https://auth.example.com/token",
            // A name may repeat (older records sent two Accept headers; answers repeat Vary).
            request_headers: [
              ["content-type", "application/x-www-form-urlencoded"],
              ["accept", "application/json"],
              ["accept", "text/event-stream"],
            ],
            request_body: "grant_type=refresh_token\nrefresh_token=[redacted]\nresource=https://mcp.example.com/mcp",
            status: 200,
            response_headers: [
              ["content-type", "application/json"],
              ["vary", "origin"],
              ["vary", "accept"],
            ],
            response_body: '{\n  "access_token": "[redacted]",\n  "token_type": "Bearer"\n}',
            error: null,
            ms: 42,
          },
        ],
      }),
      activity({
        at: NOW - 300,
        kind: "error",
        summary: "Refresh failed; will retry",
        error: "temporarily_unavailable",
        error_description: "The token endpoint is busy",
      }),
      activity({ at: NOW - 600 }),
      activity({ at: NOW - 601, kind: "discovery", summary: "Discovered https://auth.example.com via protected resource metadata" }),
    ],
    token_masked: "eyJhbG****",
    audience: a.resource,
    ...over,
  };
}

export function preview(over: Partial<DiscoveryPreview> = {}): DiscoveryPreview {
  return {
    mcp_url: "https://mcp.example.com/mcp",
    resource: "https://mcp.example.com/mcp",
    resource_metadata_url: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
    authorization_servers: ["https://auth.example.com"],
    issuer: "https://auth.example.com",
    metadata_url: "https://auth.example.com/.well-known/oauth-authorization-server",
    registration: "dynamic",
    offered_scopes: ["mcp:read", "mcp:write", "mcp:admin"],
    challenged_scopes: ["mcp:read"],
    legacy: false,
    steps: [
      { name: "MCP server", detail: "https://mcp.example.com/mcp asked for a token (scope mcp:read)", found: true },
      {
        name: "Protected resource metadata",
        detail: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp → resource https://mcp.example.com/mcp",
        found: true,
      },
      {
        name: "Authorization server",
        detail: "https://auth.example.com (https://auth.example.com/.well-known/oauth-authorization-server)",
        found: true,
      },
      { name: "Client registration", detail: "dynamic", found: true },
    ],
    existing_accounts: [],
    share_offers: [],
    ...over,
  };
}

export function started(over: Partial<SignInStarted> = {}): SignInStarted {
  return {
    id: "signin-1",
    authorization_server_host: "auth.example.com",
    redirect_uri: "http://127.0.0.1:53121/callback",
    scopes: ["mcp:read"],
    browser: "opened with xdg-open",
    authorization_url: "https://auth.example.com/authorize?client_id=mcpauth-7f3a&response_type=code",
    ...over,
  };
}

export function candidate(over: Partial<ImportCandidateView> = {}): ImportCandidateView {
  return {
    source: "Claude Code",
    name: "example",
    url: "https://mcp.example.com/mcp",
    config_path: "/home/alice/project/.mcp.json",
    signed_in: false,
    ...over,
  };
}

export const sampleAccounts = (): AccountView[] => [
  account(),
  account({
    id: "e5f6a7b8",
    name: "work",
    server_url: "https://tools.acme.dev/mcp",
    resource: "https://tools.acme.dev/mcp",
    issuer: "https://login.acme.dev/realms/main",
    subject: "bob",
    granted_scopes: ["tools:read", "tools:run"],
    offered_scopes: ["tools:read", "tools:run", "tools:admin"],
    status: status({ state: "needs_sign_in", expires_at: null, reason: "the refresh token was revoked" }),
    has_refresh_token: false,
  }),
  account({
    id: "c9d0e1f2",
    name: "ci-bot",
    kind: "machine",
    subject: null,
    server_url: "https://tools.acme.dev/mcp",
    issuer: "https://login.acme.dev/realms/main",
    client_auth: "private_key_jwt",
    registration: "pre_registered",
    granted_scopes: ["tools:read"],
    is_default: false,
    has_refresh_token: false,
    status: status({ state: "error", expires_at: null, reason: "could not reach https://login.acme.dev", retry_at: NOW + 45 }),
  }),
];
