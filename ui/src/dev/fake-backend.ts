// An in-memory stand-in for the Tauri backend, over @tauri-apps/api/mocks:
// the component tests drive the real UI against it, and mock.html (npm run dev,
// then /mock.html) shows every screen with sample data. Not in the app's build.

import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";

import type {
  AccountDetail,
  AccountView,
  AppError,
  AppInfo,
  DiscoveryPreview,
  DiscoveryStep,
  ImportCandidateView,
  MachineAccountOptions,
  Settings,
  SignInLink,
  SignInOptions,
  IdentityProviderOptions,
  IdentityProviderView,
  SignInStarted,
  SharedSignInResult,
  SignOutResult,
  UpgradeResult,
  WindowState,
} from "../bindings";
import * as fx from "./fixtures";

export interface FakeOptions {
  accounts?: AccountView[];
  /** discover answers this, or rejects with it when it is an AppError. */
  discover?: DiscoveryPreview | AppError;
  /** Steps discover reports as `discovery-step` events before it answers. */
  discoverSteps?: DiscoveryStep[];
  /** How long discover takes after its last step. */
  discoverDelayMs?: number;
  /** upgrade_scopes: "refresh" grants at once, "browser" starts a sign-in. */
  upgrade?: "refresh" | "browser";
  signOut?: Partial<SignOutResult>;
  /** share_sign_in: "accepted" adds the account; else the server's refusal, and whether it cost the holder's grant. */
  share?: "accepted" | { refused: string; holderNeedsSignIn: boolean };
  /** How long share_sign_in takes. */
  shareDelayMs?: number;
  candidates?: ImportCandidateView[];
  settings?: Settings;
  info?: AppInfo;
  pendingLink?: SignInLink | null;
  /** What window_state answers: the sign-ins a closed window left. */
  windowState?: WindowState;
  /** Commands that reject with this error. */
  failures?: Record<string, AppError>;
  /** Milliseconds every command waits (for the mock page). */
  latency?: number;
  /** What identity_providers answers; sign_in_to_identity_provider adds to it. */
  identityProviders?: IdentityProviderView[];
}

export interface Call {
  cmd: string;
  args: Record<string, unknown>;
}

export interface FakeBackend {
  calls: Call[];
  accounts: AccountView[];
  lastStarted: SignInStarted | null;
  emit(event: string, payload?: unknown): Promise<void>;
  /** Finishes the waiting sign-in as the backend would (sign-in-finished). */
  finishSignIn(result: { account?: AccountView; error?: string; id?: string | null }): Promise<void>;
  callsOf(cmd: string): Call[];
}

const isAppError = (v: unknown): v is AppError =>
  typeof v === "object" && v !== null && "kind" in v && "message" in v && !("steps" in v);

export function installFakeBackend(opts: FakeOptions = {}): FakeBackend {
  const accounts: AccountView[] = opts.accounts ?? [];
  let settings: Settings = opts.settings ?? { redirect: "loopback", client_metadata_url: null, refresh_skew_secs: 60, start_at_login: false };
  let pendingLink: SignInLink | null = opts.pendingLink ?? null;
  const idps: IdentityProviderView[] = opts.identityProviders ?? [];
  let signInCount = 0;
  const calls: Call[] = [];

  const find = (id: string): AccountView => {
    const a = accounts.find((x) => x.id === id);
    if (!a) throw { kind: "no_such_account", message: `no account ${id}` } satisfies AppError;
    return a;
  };

  const fake: FakeBackend = {
    calls,
    accounts,
    lastStarted: null,
    async emit(event, payload = null) {
      await emit(event, payload);
    },
    async finishSignIn({ account, error, id }) {
      const started = fake.lastStarted;
      await emit("sign-in-finished", {
        id: id === undefined ? (started?.id ?? null) : id,
        account: account ?? null,
        error: error ?? null,
      });
    },
    callsOf: (cmd) => calls.filter((c) => c.cmd === cmd),
  };

  function start(options: Partial<SignInOptions>): SignInStarted {
    signInCount++;
    const s = fx.started({
      id: `signin-${signInCount}`,
      scopes: options.scopes ?? [],
      redirect_uri: options.redirect === "deep_link" ? "mcpauth://oauth/callback" : fx.started().redirect_uri,
    });
    fake.lastStarted = s;
    return s;
  }

  const handlers: Record<string, (args: Record<string, unknown>) => unknown> = {
    list_accounts: () => structuredClone(accounts),
    account_detail: ({ id }): AccountDetail => fx.detail(structuredClone(find(id as string))),
    discover: async ({ request }) => {
      for (const [index, step] of (opts.discoverSteps ?? []).entries()) {
        if (typeof request === "string") await emit("discovery-step", { request, index, step });
      }
      if (opts.discoverDelayMs) await new Promise((r) => setTimeout(r, opts.discoverDelayMs));
      const d = opts.discover ?? fx.preview();
      if (isAppError(d)) throw d;
      return d;
    },
    begin_sign_in: ({ options }) => start(options as SignInOptions),
    share_sign_in: async ({ options, through }): Promise<SharedSignInResult> => {
      if (opts.shareDelayMs) await new Promise((r) => setTimeout(r, opts.shareDelayMs));
      const holder = find(through as string);
      const o = options as SignInOptions;
      const share = opts.share ?? "accepted";
      if (share !== "accepted") {
        if (share.holderNeedsSignIn) holder.status = fx.status({ state: "needs_sign_in", expires_at: null, reason: share.refused });
        return { account: null, holder: structuredClone(holder), refused: share.refused };
      }
      const added = fx.account({
        id: `shared-${accounts.length + 1}`,
        name: o.name ?? o.mcp_url,
        server_url: o.mcp_url,
        resource: o.mcp_url,
        subject: holder.subject,
        client_id: holder.client_id,
        granted_scopes: o.scopes.length ? o.scopes : holder.granted_scopes,
        has_refresh_token: false,
        grant_holder: holder.id,
        is_default: false,
      });
      accounts.push(added);
      return { account: structuredClone(added), holder: structuredClone(holder), refused: null };
    },
    cancel_sign_in: () => true,
    refresh_now: ({ id }) => {
      const a = find(id as string);
      a.last_refresh_at = Math.floor(Date.now() / 1000);
      a.expires_at = a.last_refresh_at + 3600;
      a.status = fx.status({ expires_at: a.expires_at });
      return structuredClone(a);
    },
    upgrade_scopes: ({ id, scopes }): UpgradeResult => {
      const a = find(id as string);
      if (opts.upgrade === "browser") {
        return {
          granted: false,
          account: null,
          sign_in: start({ scopes: [...a.granted_scopes, ...(scopes as string[])] }),
          reason: "the server wants consent for the new scopes",
        };
      }
      // The server grants all but "mcp:admin".
      const added = (scopes as string[]).filter((s) => s !== "mcp:admin");
      a.granted_scopes = [...new Set([...a.granted_scopes, ...added])];
      return { granted: true, account: structuredClone(a), sign_in: null, reason: null };
    },
    sign_out: ({ id }): SignOutResult => {
      const a = find(id as string);
      accounts.splice(accounts.indexOf(a), 1);
      const ended = accounts.filter((x) => x.grant_holder === a.id);
      for (const x of ended) {
        x.grant_holder = null;
        x.status = fx.status({ state: "needs_sign_in", expires_at: null, reason: `it shared the sign-in of account ${a.id}, which was signed out; sign in again` });
      }
      return {
        account: a.id,
        revocation_supported: true,
        refresh_token: "revoked",
        access_token: "revoked",
        fully_revoked: true,
        shared_ended: ended.map((x) => x.id),
        ...opts.signOut,
      };
    },
    add_machine_account: ({ options }) => {
      const o = options as MachineAccountOptions;
      const a = fx.account({
        id: `m${accounts.length}achine`.slice(0, 8),
        name: o.name ?? o.mcp_url,
        kind: "machine",
        subject: null,
        server_url: o.mcp_url,
        client_id: o.client_id,
        client_auth: o.private_key ? "private_key_jwt" : "client_secret_basic",
        registration: "pre_registered",
        granted_scopes: o.scopes,
        has_refresh_token: false,
        is_default: !accounts.some((x) => x.server_url === o.mcp_url),
      });
      accounts.push(a);
      return structuredClone(a);
    },
    identity_providers: () => structuredClone(idps),
    sign_in_to_identity_provider: async ({ options }) => {
      const o = options as IdentityProviderOptions;
      const issuer = o.issuer.trim();
      await emit("idp-sign-in-started", {
        issuer,
        authorization_url: `${issuer}/auth?client_id=${o.client_id}`,
        browser: "opened with the fake browser",
      });
      let idp = idps.find((i) => i.issuer === issuer && i.client_id === o.client_id);
      if (!idp) {
        idp = { issuer, client_id: o.client_id, signed_in_as: null, expires_at: null, id_token_from: null, servers: [] };
        idps.push(idp);
      }
      idp.signed_in_as = "alice@example.com";
      idp.expires_at = Math.floor(Date.now() / 1000) + 3600;
      return structuredClone(idp);
    },
    forget_identity_provider: ({ provider }) => {
      const p = provider as { issuer: string; client_id: string };
      const at = idps.findIndex((i) => i.issuer === p.issuer && i.client_id === p.client_id);
      if (at >= 0) idps.splice(at, 1);
      return null;
    },
    set_default: ({ id }) => {
      const a = find(id as string);
      for (const x of accounts) if (x.server_url === a.server_url) x.is_default = x.id === a.id;
      return null;
    },
    export_preview: ({ target, path }) => ({
      target,
      path: (path as string | null) ?? `/home/alice/project/.${target as string}.json`,
      diff: `--- a/.mcp.json\n+++ b/.mcp.json\n@@ -1,3 +1,9 @@\n {\n-  "mcpServers": {}\n+  "mcpServers": {\n+    "example": {\n+      "type": "http",\n+      "url": "https://mcp.example.com/mcp",\n+      "headersHelper": "mcpauth token a1b2c3d4 --format headers-json"\n+    }\n+  }\n }\n`,
      unchanged: false,
      command: "/usr/bin/mcpauth",
      command_found: true,
    }),
    export_write: ({ path }) => `Wrote ${path as string}`,
    copy_token: () => null,
    copy_header: () => null,
    reveal_token: () => "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
    import_candidates: () =>
      opts.candidates ?? [
        fx.candidate(),
        fx.candidate({
          source: "Cursor",
          name: "acme",
          url: "https://tools.acme.dev/mcp",
          config_path: "/home/alice/.cursor/mcp.json",
          signed_in: true,
        }),
      ],
    get_settings: () => settings,
    set_settings: ({ settings: s }) => {
      settings = s as Settings;
      return settings;
    },
    first_render: () => null,
    app_info: () =>
      opts.info ?? { version: "0.1.0", storage_backend: "Secret Service (gnome-keyring)", home: "/home/alice/.local/share/mcpauth" },
    pending_link: () => {
      const l = pendingLink;
      pendingLink = null;
      return l;
    },
    pending_notices: () => [],
    window_state: () => opts.windowState ?? { sign_ins: [], finished: [] },
    remember_route: () => null,
  };

  mockIPC(
    async (cmd, args) => {
      const a = (args ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args: a });
      if (opts.latency) await new Promise((r) => setTimeout(r, opts.latency));
      const failure = opts.failures?.[cmd];
      if (failure) throw failure;
      const h = handlers[cmd];
      if (!h) throw { kind: "failure", message: `the fake backend has no ${cmd}` } satisfies AppError;
      return h(a);
    },
    { shouldMockEvents: true },
  );
  return fake;
}
