import { afterEach, describe, expect, it, vi } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { installFakeBackend } from "../dev/fake-backend";
import * as fx from "../dev/fixtures";
import { resetStartupMarks } from "./startup";
import { AppState } from "./store.svelte";

afterEach(() => {
  clearMocks();
  delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__;
});

function addWaiting(id: string) {
  return {
    started: fx.started({ id }),
    purpose: "add" as const,
    accountId: null,
    before: [],
    asked: ["mcp:read"],
    serverUrl: "https://mcp.example.com/mcp",
  };
}

function waitingState() {
  installFakeBackend({ accounts: [] });
  const app = new AppState(true);
  app.beginWaiting(addWaiting("s-1"));
  return app;
}

describe("sign-in-finished", () => {
  it("ends the sign-in it names, in its card while Add server is open", () => {
    const app = waitingState();
    app.go({ screen: "add" });
    app.signInFinished({ id: "s-1", account: fx.account(), error: null });
    expect(app.signIn).toBeNull();
    expect(app.lastFinished).toMatchObject({ purpose: "add", error: null });
    expect(app.banners).toEqual([]);
  });

  it("a new account that finishes on another screen gets a banner, and Add server opens fresh later", () => {
    // The user left the waiting screen (to the accounts list, say) before the
    // browser answered: the banner says how it ended; no result card is kept
    // for the next visit to Add server.
    const app = waitingState();
    app.go({ screen: "accounts" });
    app.signInFinished({ id: "s-1", account: fx.account(), error: null });
    expect(app.signIn).toBeNull();
    expect(app.lastFinished).toBeNull();
    expect(app.banners[0]).toMatchObject({ kind: "success" });
  });

  it("a deep-link sign-in finishes without an id and still ends the waiting one", () => {
    const app = waitingState();
    app.go({ screen: "add" });
    app.signInFinished({ id: null, account: null, error: "access_denied" });
    expect(app.signIn).toBeNull();
    expect(app.lastFinished?.error).toBe("access_denied");
    app.go({ screen: "accounts" });
    app.beginWaiting(addWaiting("s-3"));
    app.signInFinished({ id: null, account: null, error: "access_denied" });
    expect(app.lastFinished).toBeNull();
    expect(app.banners[0]).toMatchObject({ kind: "error", text: "access_denied" });
  });

  it("another sign-in's answer leaves the waiting one alone", () => {
    const app = waitingState();
    app.signInFinished({ id: "s-other", account: fx.account({ id: "other123" }), error: null });
    expect(app.signIn?.started.id).toBe("s-1");
    expect(app.accounts.map((a) => a.id)).toEqual(["other123"]);
  });

  it("an upgrade reports what it changed", () => {
    installFakeBackend({ accounts: [] });
    const app = new AppState(true);
    app.beginWaiting({
      started: fx.started({ id: "s-2" }),
      purpose: "upgrade",
      accountId: "a1b2c3d4",
      before: ["mcp:read"],
      asked: ["mcp:read", "mcp:write", "mcp:admin"],
      serverUrl: "https://mcp.example.com/mcp",
    });
    app.signInFinished({ id: "s-2", account: fx.account({ granted_scopes: ["mcp:read", "mcp:write"] }), error: null });
    expect(app.lastFinished?.outcome).toBe("Granted: mcp:write. Not granted: mcp:admin.");
  });
});

describe("banners and links", () => {
  it("keeps the five newest problems, and only the newest success or notice", () => {
    const app = new AppState(false);
    for (let i = 0; i < 7; i++) app.notify("error", `e${i}`);
    expect(app.banners.map((b) => b.title)).toEqual(["e6", "e5", "e4", "e3", "e2"]);
    app.dismiss(app.banners[0]!.id);
    expect(app.banners).toHaveLength(4);
    app.banners = [];
    app.notify("success", "s1");
    app.notify("unsolicited", "u1");
    app.notify("info", "i1");
    app.notify("success", "s2");
    expect(app.banners.map((b) => b.title)).toEqual(["s2", "u1"]);
  });

  it("a confirmed link opens Add server with a prefill; a dismissed one does nothing", () => {
    installFakeBackend({ accounts: [] });
    const app = new AppState(true);
    app.offerLink({ url: "https://m.example/mcp", scopes: ["a"] });
    app.dismissLink();
    expect(app.pendingLink).toBeNull();
    expect(app.addPrefill).toBeNull();
    app.offerLink({ url: "https://m.example/mcp", scopes: ["a"] });
    app.confirmLink();
    expect(app.addPrefill).toMatchObject({ url: "https://m.example/mcp", scopes: ["a"], discover: true });
    expect(app.route).toEqual({ screen: "add" });
  });
});

describe("loading the accounts", () => {
  it("changes announced during a load cause one more load, not one each", async () => {
    const backend = installFakeBackend({ accounts: [fx.account()] });
    const app = new AppState(true);
    const first = app.loadAccounts(true);
    for (let i = 0; i < 50; i++) app.vaultChanged({ kind: "changed", account: null, message: null });
    await first;
    expect(backend.callsOf("list_accounts")).toHaveLength(2);
    expect(app.accounts).toHaveLength(1);
    // Once idle, the next change loads again.
    await app.loadAccounts(true);
    expect(backend.callsOf("list_accounts")).toHaveLength(3);
  });
});

describe("start-up", () => {
  it("listens first, then loads, then reports the first render with its timeline", async () => {
    resetStartupMarks(); // other tests in this file loaded accounts already
    const backend = installFakeBackend({ accounts: [fx.account(), fx.account({ id: "e5f6a7b8" })] });
    const app = new AppState(true);
    await app.start();
    await vi.waitFor(() => expect(backend.callsOf("first_render")).toHaveLength(1));
    app.stop();

    const { accounts, marks } = backend.callsOf("first_render")[0]!.args as {
      accounts: number;
      marks: { name: string; at: number }[];
    };
    expect(accounts).toBe(2);
    const at = (name: string) => marks.find((m) => m.name === name)?.at ?? NaN;
    // Each step is there once, with a time, in the order start() runs them.
    const steps = ["listening", "accounts answered", "loaded", "in dom", "painted"];
    for (const s of steps) expect(marks.filter((m) => m.name === s)).toHaveLength(1);
    const times = steps.map(at);
    expect(times.every(Number.isFinite)).toBe(true);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(at("navigation start")).toBeLessThanOrEqual(times[0]!);
  });
});

describe("a window built again", () => {
  const progress = (id: string, purpose = "add") => ({
    started: fx.started({ id }),
    purpose,
    account_id: null,
    before: [],
    asked: ["mcp:read"],
    server_url: "https://mcp.example.com/mcp",
  });

  it("waits again for the sign-in the closed window waited for", async () => {
    installFakeBackend({ accounts: [], windowState: { sign_ins: [progress("s-9")], finished: [] } });
    const app = new AppState(true);
    await app.resumeWindow();
    expect(app.signIn?.started.id).toBe("s-9");
    expect(app.signIn?.purpose).toBe("add");
  });

  it("shows how a sign-in that finished while no window was open ended", async () => {
    installFakeBackend({
      accounts: [],
      windowState: {
        sign_ins: [],
        finished: [{ progress: progress("s-1", "reauth"), event: { id: "s-1", account: null, error: "access_denied" } }],
      },
    });
    const app = new AppState(true);
    await app.resumeWindow();
    expect(app.signIn).toBeNull();
    expect(app.lastFinished).toMatchObject({ purpose: "reauth", error: "access_denied" });
    expect(app.banners[0]).toMatchObject({ kind: "error", text: "access_denied" });
  });
});

describe("banners", () => {
  it("belong to the screen they were shown on; an account needing sign-in follows everywhere", () => {
    installFakeBackend({ accounts: [] });
    const app = new AppState(true);
    app.go({ screen: "settings" });
    app.notify("warning", "Settings saved");
    app.vaultChanged({ kind: "needs_sign_in", account: "a1b2c3d4", message: "revoked" } as never);
    app.notify("success", "Signed out", { screen: "#/accounts" });
    expect(app.banners.map((b) => b.title)).toContain("Settings saved");
    app.go({ screen: "accounts" });
    const titles = app.banners.map((b) => b.title);
    expect(titles).not.toContain("Settings saved");
    expect(titles).toContain("Signed out");
    expect(titles.some((t) => t.includes("needs a new sign-in"))).toBe(true);
    app.go({ screen: "add" });
    expect(app.banners.map((b) => b.title)).toEqual([expect.stringContaining("needs a new sign-in")]);
  });
});
