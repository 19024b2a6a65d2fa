import { describe, expect, it } from "vitest";
import { errorText, failedStep, isAppError, toAppError } from "./errors";

describe("AppError handling", () => {
  it("keeps backend errors as they are", () => {
    expect(toAppError({ kind: "keyring", message: "locked", extra: 1 })).toEqual({ kind: "keyring", message: "locked" });
    expect(isAppError({ kind: "x", message: "y" })).toBe(true);
    expect(isAppError({ kind: "x" })).toBe(false);
  });

  it("turns anything else into a failure", () => {
    expect(toAppError("boom")).toEqual({ kind: "failure", message: "boom" });
    expect(toAppError(new TypeError("bad"))).toEqual({ kind: "failure", message: "bad" });
    expect(toAppError({ some: "thing" })).toEqual({ kind: "failure", message: '{"some":"thing"}' });
    expect(toAppError(undefined).kind).toBe("failure");
  });

  it("hints at a locked keyring", () => {
    expect(errorText({ kind: "keyring", message: "timed out" })).toMatch(/locked/);
    expect(errorText({ kind: "protocol", message: "nope" })).toBe("nope");
  });
});

describe("which discovery step failed", () => {
  const cases: [string, string][] = [
    ["could not reach https://mcp.example.com/mcp: connection refused", "MCP server"],
    ["https://mcp.example.com/mcp does not look like an MCP server that uses OAuth: no 401", "MCP server"],
    [
      "https://mcp.example.com/.well-known/oauth-protected-resource/mcp answered HTTP 500 for protected resource metadata",
      "Protected resource metadata",
    ],
    [
      "the protected resource metadata at https://x/.well-known/oauth-protected-resource is for `https://y`, not for `https://x`",
      "Protected resource metadata",
    ],
    ["the protected resource metadata at https://x lists no authorization_servers", "Protected resource metadata"],
    ["`https://evil` is not one of the authorization servers this resource lists (https://a)", "Protected resource metadata"],
    ["no authorization server metadata found for `https://a` (tried https://a/.well-known/oauth-authorization-server)", "Authorization server"],
    ["could not reach https://a/.well-known/openid-configuration: timeout", "Authorization server"],
    ["the authorization server `https://a` does not advertise PKCE with S256", "Authorization server"],
    ["the authorization server metadata at https://a/.well-known/oauth-authorization-server names issuer `x`", "Authorization server"],
    ["no client identity for `https://a`: it supports neither Client ID Metadata Documents nor dynamic registration", "Client registration"],
    ["the authorization server refused client registration at https://a/reg: invalid_redirect_uri", "Client registration"],
  ];
  it.each(cases)("%s", (message, step) => {
    expect(failedStep(message)).toBe(step);
  });
});
