import { describe, expect, it } from "vitest";
import type { StatusView } from "../bindings";
import {
  activityLabel,
  clientAuthLabel,
  coarseDuration,
  countdown,
  dateTime,
  dateTimeRelative,
  describeUpgrade,
  diffLines,
  diffStats,
  displayName,
  hostOf,
  isHttpUrl,
  maskSecret,
  needsSignIn,
  parseScopes,
  plural,
  registrationLabel,
  relativeTime,
  scopeDiff,
  statusChip,
  subjectLabel,
  upgradeOutcome,
} from "./format";

const NOW = 1_700_000_000;
const st = (over: Partial<StatusView>): StatusView => ({
  state: "active",
  expires_at: null,
  reason: null,
  retry_at: null,
  ...over,
});

describe("durations and relative times", () => {
  it("coarse durations round down to one unit", () => {
    expect(coarseDuration(0)).toBe("0 s");
    expect(coarseDuration(42)).toBe("42 s");
    expect(coarseDuration(60)).toBe("1 min");
    expect(coarseDuration(5 * 60 + 59)).toBe("5 min");
    expect(coarseDuration(3 * 3600 + 1800)).toBe("3 h");
    expect(coarseDuration(2 * 86400 + 5)).toBe("2 d");
    expect(coarseDuration(-5)).toBe("0 s");
  });

  it("countdowns keep seconds while they matter", () => {
    expect(countdown(42)).toBe("42 s");
    expect(countdown(4 * 60 + 5)).toBe("4 min 05 s");
    expect(countdown(42 * 60 + 30)).toBe("42 min");
    expect(countdown(3600)).toBe("1 h");
    expect(countdown(3600 + 20 * 60)).toBe("1 h 20 min");
    expect(countdown(86400 * 2 + 3600 * 3)).toBe("2 d 3 h");
    expect(countdown(86400)).toBe("1 d");
  });

  it("relative times say in or ago", () => {
    expect(relativeTime(NOW + 300, NOW)).toBe("in 5 min");
    expect(relativeTime(NOW - 3 * 3600, NOW)).toBe("3 h ago");
    expect(relativeTime(NOW + 2, NOW)).toBe("just now");
    expect(relativeTime(NOW - 4, NOW)).toBe("just now");
    expect(relativeTime(NOW - 90, NOW)).toBe("1 min ago");
  });

  it("absolute times are dashes when unknown", () => {
    expect(dateTime(null)).toBe("—");
    expect(dateTime(undefined)).toBe("—");
    expect(dateTime(NOW)).toMatch(/\d/);
    expect(dateTimeRelative(null, NOW)).toBe("—");
    expect(dateTimeRelative(NOW + 600, NOW)).toMatch(/\(in 10 min\)$/);
  });
});

describe("status chips", () => {
  it("active with a live countdown", () => {
    expect(statusChip(st({ expires_at: NOW + 300 }), NOW)).toEqual({
      label: "Active · expires in 5 min 00 s",
      tone: "ok",
      detail: null,
    });
    expect(statusChip(st({ expires_at: NOW + 299 }), NOW).label).toBe("Active · expires in 4 min 59 s");
    expect(statusChip(st({ expires_at: NOW + 7200 }), NOW).label).toBe("Active · expires in 2 h");
  });

  it("active without an expiry, or already expired", () => {
    expect(statusChip(st({}), NOW)).toMatchObject({ label: "Active", tone: "ok" });
    const expired = statusChip(st({ expires_at: NOW - 120 }), NOW);
    expect(expired.label).toBe("Active · expired 2 min ago");
    expect(expired.tone).toBe("warn");
    expect(expired.detail).toMatch(/refreshed/);
  });

  it("refreshing and upgrading are busy", () => {
    expect(statusChip(st({ state: "refreshing" }), NOW)).toMatchObject({ label: "Refreshing…", tone: "busy" });
    expect(statusChip(st({ state: "upgrading", reason: "asking for mcp:write" }), NOW)).toMatchObject({
      tone: "busy",
      detail: "asking for mcp:write",
    });
  });

  it("needs sign-in carries the reason", () => {
    expect(statusChip(st({ state: "needs_sign_in", reason: "refresh token revoked" }), NOW)).toEqual({
      label: "Needs sign-in",
      tone: "warn",
      detail: "refresh token revoked",
    });
  });

  it("errors show when they are retried", () => {
    expect(statusChip(st({ state: "error", reason: "unreachable", retry_at: NOW + 45 }), NOW)).toEqual({
      label: "Error · retry in 45 s",
      tone: "error",
      detail: "unreachable",
    });
    expect(statusChip(st({ state: "error", retry_at: NOW - 1 }), NOW).label).toBe("Error · retrying");
    expect(statusChip(st({ state: "error" }), NOW).label).toBe("Error");
  });

  it("signed out and unknown states are muted", () => {
    expect(statusChip(st({ state: "signed_out" }), NOW)).toMatchObject({ label: "Signed out", tone: "muted" });
    expect(statusChip(st({ state: "something_new" }), NOW)).toMatchObject({ label: "something new", tone: "muted" });
  });

  it("blank reasons are no reasons", () => {
    expect(statusChip(st({ state: "needs_sign_in", reason: "  " }), NOW).detail).toBeNull();
  });

  it("knows which states need a new sign-in", () => {
    expect(needsSignIn(st({ state: "needs_sign_in" }))).toBe(true);
    expect(needsSignIn(st({ state: "signed_out" }))).toBe(true);
    expect(needsSignIn(st({ state: "error" }))).toBe(false);
    expect(needsSignIn(st({}))).toBe(false);
  });
});

describe("scopes", () => {
  it("parses typed scope lists", () => {
    expect(parseScopes(" a  b,c\n a ")).toEqual(["a", "b", "c"]);
    expect(parseScopes("")).toEqual([]);
  });

  it("diffs granted against offered and requested", () => {
    expect(scopeDiff(["r"], ["r", "w", "admin"], ["r", "x"])).toEqual({
      granted: ["r"],
      available: ["w", "admin", "x"],
      requestedNotGranted: ["x"],
    });
    expect(scopeDiff(["r", "w"], ["r", "w"]).available).toEqual([]);
  });

  it("tells what an upgrade really changed", () => {
    const o = upgradeOutcome(["r"], ["r", "w"], ["w", "admin"]);
    expect(o).toEqual({ added: ["w"], missing: ["admin"], lost: [] });
    expect(describeUpgrade(o)).toBe("Granted: w. Not granted: admin.");
    expect(describeUpgrade(upgradeOutcome(["r", "x"], ["r"], ["w"]))).toBe(
      "No new scope was granted. Not granted: w. No longer granted: x.",
    );
  });
});

describe("labels", () => {
  it("names registrations and client auth methods", () => {
    expect(registrationLabel("dynamic")).toBe("Dynamic client registration");
    expect(registrationLabel("metadata_document")).toBe("Client ID Metadata Document");
    expect(registrationLabel("pre_registered")).toBe("Pre-registered client");
    expect(registrationLabel("new_kind")).toBe("new kind");
    expect(clientAuthLabel("private_key_jwt")).toBe("private key JWT");
    expect(clientAuthLabel("none")).toMatch(/public/);
    expect(clientAuthLabel("")).toBe("—");
  });

  it("names activity kinds", () => {
    expect(activityLabel("sign_in")).toBe("Sign-in");
    expect(activityLabel("step_up")).toBe("Step-up");
    expect(activityLabel("other_thing")).toBe("other thing");
  });

  it("hosts, URLs and names", () => {
    expect(hostOf("https://auth.example.com:8443/x")).toBe("auth.example.com:8443");
    expect(hostOf("not a url")).toBe("not a url");
    expect(isHttpUrl("https://mcp.example.com/mcp")).toBe(true);
    expect(isHttpUrl("http://127.0.0.1:4402/mcp")).toBe(true);
    expect(isHttpUrl("javascript:alert(1)")).toBe(false);
    expect(isHttpUrl("mcp.example.com")).toBe(false);
    expect(displayName({ name: "work", server_url: "https://x.dev/mcp" })).toBe("work");
    expect(displayName({ name: "https://x.dev/mcp", server_url: "https://x.dev/mcp" })).toBe("x.dev/mcp");
    expect(displayName({ name: "https://x.dev/", server_url: "https://x.dev/" })).toBe("x.dev");
    expect(subjectLabel("alice", "user")).toBe("alice");
    expect(subjectLabel(null, "machine")).toMatch(/machine/);
    expect(subjectLabel(null, "user")).toBe("unknown user");
    expect(plural(1, "account")).toBe("1 account");
    expect(plural(3, "account")).toBe("3 accounts");
  });

  it("masks secrets", () => {
    expect(maskSecret("eyJhbGciOiJSUzI1NiJ9.payload")).toBe("eyJhbG****");
    expect(maskSecret("short")).toBe("****");
  });
});

describe("diffs", () => {
  const diff = "--- a/x.json\n+++ b/x.json\n@@ -1,2 +1,3 @@\n {\n-  \"a\": 1\n+  \"a\": 2,\n+  \"b\": 3\n }\n";

  it("tags every line", () => {
    expect(diffLines(diff).map((l) => l.kind)).toEqual([
      "header",
      "header",
      "hunk",
      "context",
      "del",
      "add",
      "add",
      "context",
    ]);
  });

  it("counts added and removed lines", () => {
    expect(diffStats(diff)).toEqual({ added: 2, removed: 1 });
    expect(diffStats("")).toEqual({ added: 0, removed: 0 });
  });
});
