import { describe, expect, it } from "vitest";
import { checkServerUrl, looksLikeKey, machineOptions, settingsForm, settingsFrom, signInOptions } from "./forms";

const signIn = {
  mcpUrl: " https://mcp.example.com/mcp ",
  name: "",
  scopes: ["mcp:read"],
  extraScopes: "mcp:write  mcp:read",
  redirect: "loopback" as const,
  clientId: "",
  clientSecret: "",
  authorizationServer: null,
};

describe("sign-in options", () => {
  it("builds begin_sign_in options", () => {
    expect(signInOptions(signIn)).toEqual({
      ok: true,
      value: {
        mcp_url: "https://mcp.example.com/mcp",
        name: null,
        scopes: ["mcp:read", "mcp:write"],
        redirect: "loopback",
        client_id: null,
        client_secret: null,
        authorization_server: null,
        account: null,
      },
    });
  });

  it("passes a pre-registered client and a chosen server", () => {
    const r = signInOptions({
      ...signIn,
      name: " work ",
      clientId: " cid ",
      clientSecret: "s3cret",
      redirect: "deep_link",
      authorizationServer: "https://b.example",
    });
    expect(r.ok && r.value).toMatchObject({
      name: "work",
      client_id: "cid",
      client_secret: "s3cret",
      redirect: "deep_link",
      authorization_server: "https://b.example",
    });
  });

  it("refuses a secret without a client id, and bad URLs", () => {
    expect(signInOptions({ ...signIn, clientSecret: "x" }).ok).toBe(false);
    expect(checkServerUrl("").ok).toBe(false);
    expect(checkServerUrl("ftp://x").ok).toBe(false);
    expect(checkServerUrl("javascript:alert(1)").ok).toBe(false);
    expect(checkServerUrl("http://127.0.0.1:4402/mcp")).toEqual({ ok: true, value: "http://127.0.0.1:4402/mcp" });
  });
});

const PEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n";

describe("machine account options", () => {
  const base = {
    mcpUrl: "https://mcp.example.com/mcp",
    name: "ci",
    clientId: "bot",
    clientSecret: "",
    privateKey: "",
    alg: "auto" as const,
    scopes: "a b",
  };

  it("with a client secret", () => {
    expect(machineOptions({ ...base, clientSecret: "s" })).toEqual({
      ok: true,
      value: {
        mcp_url: "https://mcp.example.com/mcp",
        name: "ci",
        client_id: "bot",
        client_secret: "s",
        private_key: null,
        signing_alg: null,
        scopes: ["a", "b"],
      },
    });
  });

  it("with a private key and an algorithm", () => {
    const r = machineOptions({ ...base, privateKey: PEM, alg: "EdDSA" });
    expect(r.ok && r.value).toMatchObject({ client_secret: null, private_key: PEM, signing_alg: "EdDSA" });
    const auto = machineOptions({ ...base, privateKey: '{"kty":"EC","crv":"P-256"}' });
    expect(auto.ok && auto.value.signing_alg).toBeNull();
  });

  it("needs exactly one credential, a client id and a real key", () => {
    expect(machineOptions(base)).toMatchObject({ ok: false });
    expect(machineOptions({ ...base, clientSecret: "s", privateKey: PEM })).toMatchObject({ ok: false });
    expect(machineOptions({ ...base, clientSecret: "s", clientId: " " })).toMatchObject({ ok: false });
    expect(machineOptions({ ...base, privateKey: "hello" })).toMatchObject({ ok: false });
    expect(machineOptions({ ...base, clientSecret: "s", mcpUrl: "nope" })).toMatchObject({ ok: false });
  });

  it("recognizes PEM and JWK keys", () => {
    expect(looksLikeKey(PEM)).toBe(true);
    expect(looksLikeKey("-----BEGIN EC PRIVATE KEY-----\n...")).toBe(true);
    expect(looksLikeKey('{"kty":"OKP"}')).toBe(true);
    expect(looksLikeKey('{"x":1}')).toBe(false);
    expect(looksLikeKey("{not json")).toBe(false);
    expect(looksLikeKey("-----BEGIN PUBLIC KEY-----")).toBe(false);
  });
});

describe("settings", () => {
  it("round-trips", () => {
    const s = {
      redirect: "deep_link",
      client_metadata_url: "https://x.dev/client.json",
      refresh_skew_secs: 90,
      start_at_login: true,
    };
    expect(settingsFrom(settingsForm(s))).toEqual({ ok: true, value: s });
    expect(settingsForm({ ...s, redirect: "odd", client_metadata_url: null })).toEqual({
      redirect: "loopback",
      clientMetadataUrl: "",
      refreshSkewSecs: 90,
      startAtLogin: true,
    });
  });

  it("checks the fields", () => {
    const f = { redirect: "loopback" as const, clientMetadataUrl: "", refreshSkewSecs: "60", startAtLogin: false };
    expect(settingsFrom(f)).toEqual({
      ok: true,
      value: { redirect: "loopback", client_metadata_url: null, refresh_skew_secs: 60, start_at_login: false },
    });
    expect(settingsFrom({ ...f, clientMetadataUrl: "http://x.dev/c.json" }).ok).toBe(false);
    expect(settingsFrom({ ...f, refreshSkewSecs: "-1" }).ok).toBe(false);
    expect(settingsFrom({ ...f, refreshSkewSecs: "1.5" }).ok).toBe(false);
    expect(settingsFrom({ ...f, refreshSkewSecs: null }).ok).toBe(false);
    expect(settingsFrom({ ...f, refreshSkewSecs: 100000 }).ok).toBe(false);
  });
});
