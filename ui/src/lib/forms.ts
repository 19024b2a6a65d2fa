// What the forms send: pure builders and checks, unit-tested.

import type { IdentityProvider, IdentityProviderOptions, MachineAccountOptions, Settings, SignInOptions } from "../bindings";
import { isHttpUrl, parseScopes, unique } from "./format";

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = <T>(error: string): Result<T> => ({ ok: false, error });

/** Checks an MCP server URL typed by the user. */
export function checkServerUrl(text: string): Result<string> {
  const url = text.trim();
  if (!url) return fail("Enter the MCP server's URL, e.g. https://mcp.example.com/mcp.");
  if (!isHttpUrl(url)) return fail(`“${url}” is not an http(s) URL.`);
  return ok(url);
}

export type RedirectMethod = "loopback" | "deep_link";

export const REDIRECT_LABELS: Record<RedirectMethod, string> = {
  loopback: "Loopback (http://127.0.0.1, recommended)",
  deep_link: "Deep link (mcpauth://oauth/callback)",
};

export interface SignInForm {
  mcpUrl: string;
  name: string;
  /** Ticked scope checkboxes. */
  scopes: string[];
  /** Extra scopes typed by hand. */
  extraScopes: string;
  redirect: RedirectMethod;
  clientId: string;
  clientSecret: string;
  authorizationServer: string | null;
  account?: string | null;
}

const orNull = (s: string): string | null => (s.trim() ? s.trim() : null);

/** The scopes an Add server form names: those ticked, then those typed, each once. */
export function namedScopes(ticked: readonly string[], typed: string): string[] {
  return unique([...ticked, ...parseScopes(typed)]);
}

/** The `begin_sign_in` options for a filled-in Add server form. */
export function signInOptions(form: SignInForm): Result<SignInOptions> {
  const url = checkServerUrl(form.mcpUrl);
  if (!url.ok) return url;
  const secret = form.clientSecret;
  if (secret && !form.clientId.trim()) {
    return fail("A client secret needs its client id (under Advanced).");
  }
  return ok({
    mcp_url: url.value,
    name: orNull(form.name),
    scopes: namedScopes(form.scopes, form.extraScopes),
    redirect: form.redirect,
    client_id: orNull(form.clientId),
    client_secret: secret ? secret : null,
    authorization_server: form.authorizationServer,
    account: form.account ?? null,
  });
}

export const SIGNING_ALGS = ["auto", "ES256", "RS256", "PS256", "EdDSA"] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export interface MachineForm {
  mcpUrl: string;
  name: string;
  clientId: string;
  clientSecret: string;
  privateKey: string;
  alg: SigningAlg;
  scopes: string;
  /** Tokens through this identity provider's ID-JAGs (organisation sign-in). */
  idp?: IdentityProvider | null;
}

/** The `add_machine_account` options for a filled-in machine account form. */
export function machineOptions(form: MachineForm): Result<MachineAccountOptions> {
  const url = checkServerUrl(form.mcpUrl);
  if (!url.ok) return url;
  const clientId = form.clientId.trim();
  if (!clientId) return fail("Enter the client id the authorization server gave this machine.");
  const hasSecret = form.clientSecret.length > 0;
  const hasKey = form.privateKey.trim().length > 0;
  if (hasSecret && hasKey) return fail("Give either a client secret or a private key, not both.");
  if (!hasSecret && !hasKey) return fail("Give a client secret or a private key (PEM or JWK).");
  if (hasKey && !looksLikeKey(form.privateKey)) {
    return fail("The private key should be PEM (-----BEGIN … PRIVATE KEY-----) or a JWK (JSON).");
  }
  return ok({
    mcp_url: url.value,
    name: orNull(form.name),
    client_id: clientId,
    client_secret: hasSecret ? form.clientSecret : null,
    private_key: hasKey ? form.privateKey : null,
    signing_alg: hasKey && form.alg !== "auto" ? form.alg : null,
    scopes: parseScopes(form.scopes),
    ...(form.idp ? { idp: form.idp } : {}),
  });
}

/** The `sign_in_to_identity_provider` options for the Settings form. */
export function identityProviderOptions(form: {
  issuer: string;
  clientId: string;
  clientSecret: string;
}): Result<IdentityProviderOptions> {
  const issuer = form.issuer.trim();
  if (!issuer) return fail("Enter the identity provider's issuer URL (your administrator has it).");
  if (!/^https?:\/\//.test(issuer)) return fail("The issuer is a URL: https://…");
  const clientId = form.clientId.trim();
  if (!clientId) return fail("Enter MCP Auth's client id at the identity provider.");
  return ok({ issuer, client_id: clientId, client_secret: form.clientSecret ? form.clientSecret : null });
}

/** Whether text looks like a PEM private key or a JWK. */
export function looksLikeKey(text: string): boolean {
  const t = text.trim();
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(t)) return true;
  if (t.startsWith("{")) {
    try {
      const v: unknown = JSON.parse(t);
      return typeof v === "object" && v !== null && "kty" in v;
    } catch {
      return false;
    }
  }
  return false;
}

export interface SettingsForm {
  redirect: RedirectMethod;
  clientMetadataUrl: string;
  /** A number from the number input, or the text typed. */
  refreshSkewSecs: number | string | null;
  startAtLogin: boolean;
}

/** The settings to save from the Settings form. */
export function settingsFrom(form: SettingsForm): Result<Settings> {
  const cimd = form.clientMetadataUrl.trim();
  if (cimd && !cimd.startsWith("https://")) {
    return fail("The Client ID Metadata Document URL must be an https URL.");
  }
  const skewText = String(form.refreshSkewSecs ?? "").trim();
  if (!/^\d+$/.test(skewText)) return fail("The refresh margin is a whole number of seconds.");
  const skew = Number(skewText);
  if (skew > 86400) return fail("The refresh margin is at most 86400 seconds (a day).");
  return ok({
    redirect: form.redirect,
    client_metadata_url: cimd ? cimd : null,
    refresh_skew_secs: skew,
    start_at_login: form.startAtLogin,
  });
}

/** The Settings form's fields for saved settings. */
export function settingsForm(s: Settings): SettingsForm {
  return {
    redirect: s.redirect === "deep_link" ? "deep_link" : "loopback",
    clientMetadataUrl: s.client_metadata_url ?? "",
    refreshSkewSecs: s.refresh_skew_secs,
    startAtLogin: s.start_at_login,
  };
}
