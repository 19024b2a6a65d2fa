// The whole UI, mounted in jsdom over the fake backend (src/dev/fake-backend.ts),
// driven through the data-testid hooks the end-to-end tests use too.

import { describe, expect, it, vi } from "vitest";
import type { AccountView } from "./bindings";
import type { FakeOptions } from "./dev/fake-backend";
import * as fx from "./dev/fixtures";
import { $, $$, boot, click, el, type, until, useAppTests } from "./testing";

useAppTests();

describe("without the backend", () => {
  it("shows an error banner and the empty state instead of a blank page", async () => {
    const { root } = await boot(null);
    expect($(root, "banner-error")?.textContent).toMatch(/backend is not available/);
    expect($(root, "empty-state")).not.toBeNull();
    expect($(root, "nav-accounts")).not.toBeNull();
  });
});

describe("accounts", () => {
  it("explains what to do first when there are none", async () => {
    const { root } = await boot({ accounts: [] });
    const empty = await el(root, "empty-state");
    expect(empty.textContent).toMatch(/No accounts yet/);
    expect(empty.textContent).toMatch(/Add an MCP server/);
  });

  it("lists every account with server, subject, status and scopes", async () => {
    const { root } = await boot({ accounts: fx.sampleAccounts() });
    const rows = await until(() => $$(root, "account-row").length === 3 && $$(root, "account-row"), "rows");
    const byId = Object.fromEntries(rows.map((r) => [r.dataset.accountId, r]));
    const first = byId["a1b2c3d4"]!;
    expect(first.textContent).toContain("https://mcp.example.com/mcp");
    expect(first.textContent).toContain("alice@example.com");
    expect(first.textContent).toContain("mcp:read");
    expect($(first, "status-chip")?.textContent).toMatch(/^Active · expires in (49|50) min$/);
    expect($(byId["e5f6a7b8"]!, "status-chip")?.textContent).toBe("Needs sign-in");
    expect(byId["e5f6a7b8"]!.textContent).toContain("the refresh token was revoked");
    expect($(byId["c9d0e1f2"]!, "status-chip")?.textContent).toMatch(/^Error · retry in \d+ s$/);
  });

  it("shows the first rows of a long list at once and the rest in the frames after", async () => {
    const many = Array.from({ length: 250 }, (_, i) =>
      fx.account({ id: `acc${String(i).padStart(5, "0")}`, name: `server ${String(i).padStart(3, "0")}` }),
    );
    const { root } = await boot({ accounts: many });
    const first = $$(root, "account-row").length;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(250);
    // The heading counts every account from the start.
    expect(root.textContent).toContain("250 accounts on this computer");
    await until(() => $$(root, "account-row").length === 250, "all rows");
    // In the list's order, each once.
    const ids = $$(root, "account-row").map((r) => r.dataset.accountId);
    expect(new Set(ids).size).toBe(250);
    expect(ids[0]).toBe("acc00000");
    expect(ids[249]).toBe("acc00249");
  });

  it("reloads when the vault changes", async () => {
    const { root, fake } = await boot({ accounts: [fx.account()] });
    await until(() => $$(root, "account-row").length === 1, "one row");
    fake!.accounts.push(fx.account({ id: "z9y8x7w6", name: "second", is_default: false }));
    await fake!.emit("vault-changed");
    await until(() => $$(root, "account-row").length === 2, "two rows");
  });

  it("says in the window when an account needs a new sign-in, once", async () => {
    const { root, fake } = await boot({ accounts: [fx.account()] });
    await until(() => $$(root, "account-row").length === 1, "one row");
    const change = { kind: "needs_sign_in", account: fx.account().id, message: "the refresh token was revoked" };
    await fake!.emit("vault-changed", change);
    await fake!.emit("vault-changed", change);
    await until(() => root.textContent?.includes("needs a new sign-in"), "the banner");
    const banners = [...root.querySelectorAll("[role=alert], [role=status]")].filter((b) =>
      b.textContent?.includes("needs a new sign-in"),
    );
    expect(banners).toHaveLength(1);
    expect(banners[0]!.textContent).toContain("the refresh token was revoked");
    expect(banners[0]!.textContent).toContain(fx.account().name);
  });
});

describe("add server", () => {
  it("discovers, ticks the challenged scopes, signs in, waits and shows the new account", async () => {
    const { root, fake } = await boot({ accounts: [] }, "#/add");
    type(await el(root, "add-url"), "https://mcp.example.com/mcp");
    click($(root, "add-discover")!);
    const preview = await el(root, "add-preview");
    expect($$(preview, "discovery-steps")[0]?.querySelectorAll("li")).toHaveLength(4);
    expect($(preview, "add-resource")?.textContent).toBe("https://mcp.example.com/mcp");
    expect($(preview, "add-registration")?.textContent).toContain("Dynamic client registration");
    // Plain words: what the registration kind means.
    expect($(preview, "add-registration")?.textContent).toContain("registers itself with the authorization server");
    const read = $(root, "scope-mcp:read") as HTMLInputElement;
    const write = $(root, "scope-mcp:write") as HTMLInputElement;
    expect(read.checked).toBe(true);
    expect(write.checked).toBe(false);
    // Every control has a real label.
    for (const input of preview.querySelectorAll("input")) {
      expect(input.labels?.length ?? 0, `label for ${input.outerHTML}`).toBeGreaterThan(0);
    }
    click(write);
    click($(root, "add-signin")!);

    const waiting = await el(root, "signin-waiting");
    expect(waiting.textContent).toContain("auth.example.com");
    expect(waiting.textContent).toContain("http://127.0.0.1:53121/callback");
    const [call] = fake!.callsOf("begin_sign_in");
    expect(call?.args.options).toMatchObject({
      mcp_url: "https://mcp.example.com/mcp",
      scopes: ["mcp:read", "mcp:write"],
      redirect: "loopback",
      client_id: null,
    });

    const account = fx.account({ id: "n3w4cc01", subject: "carol@example.com", granted_scopes: ["mcp:read", "mcp:write"] });
    fake!.accounts.push(account);
    await fake!.finishSignIn({ account });
    // One place per message: the result card, no banner repeating it.
    expect((await el(root, "add-result")).textContent).toContain("carol@example.com");
    expect($(root, "banner-success")).toBeNull();
    expect($(root, "signin-waiting")).toBeNull();
    expect((await el(root, "add-result")).textContent).toContain("mcp:write");
    // Later the grant is found gone: the result card follows the account.
    const [stored] = fake!.accounts.filter((a) => a.id === "n3w4cc01");
    stored!.status = fx.status({ state: "needs_sign_in", reason: "revoked" });
    await fake!.emit("vault-changed", { kind: "needs_sign_in", account: "n3w4cc01", message: "revoked" });
    await until(() => $(root, "add-result")?.textContent?.includes("Needs sign-in"), "the card updated");
  });

  it("shows the sign-in error", async () => {
    const { root, fake } = await boot({ accounts: [] }, "#/add");
    type(await el(root, "add-url"), "https://mcp.example.com/mcp");
    click($(root, "add-discover")!);
    click((await el(root, "add-signin"))!);
    await el(root, "signin-waiting");
    await fake!.finishSignIn({ error: "the authorization server declined the sign-in: access_denied" });
    expect((await el(root, "add-result-error")).textContent).toContain("access_denied");
    expect($(root, "banner-error")).toBeNull(); // said once, in the card
  });

  it("cancels a waiting sign-in", async () => {
    const { root, fake, app } = await boot({ accounts: [] }, "#/add");
    type(await el(root, "add-url"), "https://mcp.example.com/mcp");
    click($(root, "add-discover")!);
    click(await el(root, "add-signin"));
    click(await el(root, "signin-cancel"));
    await until(() => !$(root, "signin-waiting"), "waiting gone");
    expect(fake!.callsOf("cancel_sign_in")[0]?.args).toEqual({ id: "signin-1" });
    expect(app.signIn).toBeNull();
  });

  it("says which discovery step failed, with the server's message", async () => {
    const { root } = await boot(
      {
        accounts: [],
        discover: {
          kind: "protocol",
          message: "no client identity for `https://a`: it supports neither Client ID Metadata Documents nor dynamic registration",
        },
      },
      "#/add",
    );
    type(await el(root, "add-url"), "https://mcp.example.com/mcp");
    click($(root, "add-discover")!);
    const err = await el(root, "banner-error");
    expect(err.dataset.step).toBe("Client registration");
    expect(err.textContent).toContain("no client identity");
    const states = [...err.querySelectorAll("li")].map((li) => li.dataset.state);
    expect(states).toEqual(["done", "done", "done", "failed"]);
  });

  it("shows steps as they resolve and the step the backend says failed", async () => {
    const { root } = await boot(
      {
        accounts: [],
        discoverSteps: [
          { name: "MCP server", detail: "https://mcp.example.com/mcp asked for a token", found: true },
          { name: "Protected resource metadata", detail: "https://mcp.example.com/.well-known/… → resource", found: true },
        ],
        discoverDelayMs: 300,
        // A message the wording heuristics would place elsewhere: the backend's step wins.
        discover: { kind: "protocol", message: "could not reach https://as.example", step: "Authorization server" },
      },
      "#/add",
    );
    type(await el(root, "add-url"), "https://mcp.example.com/mcp");
    click($(root, "add-discover")!);
    const live = await el(root, "discovery-live");
    await until(() => live.querySelectorAll("li[data-state=done]").length === 2, "two steps resolved");
    expect([...live.querySelectorAll("li")].map((li) => li.dataset.state)).toEqual(["done", "done", "running", "skipped"]);
    const err = await el(root, "banner-error");
    expect(err.dataset.step).toBe("Authorization server");
    expect([...err.querySelectorAll("li")].map((li) => li.dataset.state)).toEqual(["done", "done", "failed", "skipped"]);
  });

  it("refuses a URL that is not http(s) without calling the backend", async () => {
    const { root, fake } = await boot({ accounts: [] }, "#/add");
    type(await el(root, "add-url"), "javascript:alert(1)");
    click($(root, "add-discover")!);
    await until(() => root.querySelector("#add-url-error"), "url error");
    expect(fake!.callsOf("discover")).toHaveLength(0);
  });

  it("assumes https:// for a URL without a scheme and says so; the note and errors go when the input changes", async () => {
    const { root, fake } = await boot({ accounts: [] }, "#/add");
    type(await el(root, "add-url"), "javascript:alert(1)");
    click($(root, "add-discover")!);
    await until(() => root.querySelector("#add-url-error"), "url error");
    type($(root, "add-url")!, "mcp.example.com/mcp");
    await until(() => !root.querySelector("#add-url-error"), "the error clears on input");
    click($(root, "add-discover")!);
    await el(root, "add-preview");
    expect(fake!.callsOf("discover")[0]?.args.url).toBe("https://mcp.example.com/mcp");
    expect($(root, "add-url-note")?.textContent).toContain("assumed https://");
    expect(($(root, "add-url") as HTMLInputElement).value).toBe("https://mcp.example.com/mcp");
    type($(root, "add-url")!, "https://other.example/mcp");
    await until(() => !$(root, "add-url-note"), "the note clears on input");
  });

  it("says when there is already an account for the server, and adds a second one only on purpose", async () => {
    const existing = fx.account();
    const { root } = await boot({ accounts: [existing], discover: fx.preview({ existing_accounts: [existing.id] }) }, "#/add");
    type(await el(root, "add-url"), "https://mcp.example.com/mcp");
    click($(root, "add-discover")!);
    const card = await el(root, "add-existing");
    expect(card.textContent).toContain("You already have an account here");
    expect(card.textContent).toContain(existing.name);
    expect($(root, "add-signin")).toBeNull();
    click($(root, "add-second-account")!);
    await el(root, "add-signin");
    expect($(root, "add-existing")).toBeNull();
  });

  it("opens the existing account from the preview", async () => {
    const existing = fx.account();
    const { root, app } = await boot({ accounts: [existing], discover: fx.preview({ existing_accounts: [existing.id] }) }, "#/add");
    type(await el(root, "add-url"), "https://mcp.example.com/mcp");
    click($(root, "add-discover")!);
    click(await el(root, "add-open-existing"));
    await until(() => app.route.screen === "detail", "detail");
    expect(app.route).toEqual({ screen: "detail", id: existing.id });
  });

  it("marks a step the server published nothing for as absent, not as a tick", async () => {
    const steps = fx.preview().steps.map((st, i) => (i === 1 ? { ...st, found: false, detail: "not published" } : st));
    const { root } = await boot({ accounts: [], discover: fx.preview({ legacy: true, steps }) }, "#/add");
    type(await el(root, "add-url"), "https://mcp.example.com/mcp");
    click($(root, "add-discover")!);
    const list = await el(root, "discovery-steps");
    const states = [...list.querySelectorAll("li")].map((li) => li.dataset.state);
    expect(states).toEqual(["done", "absent", "done", "done"]);
  });

  it("lets the user choose among several authorization servers", async () => {
    const { root, fake } = await boot(
      { accounts: [], discover: fx.preview({ authorization_servers: ["https://a.example", "https://b.example"], issuer: "https://a.example" }) },
      "#/add",
    );
    type(await el(root, "add-url"), "https://mcp.example.com/mcp");
    click($(root, "add-discover")!);
    const b = (await el(root, "add-as-1")) as HTMLInputElement;
    b.click();
    await until(() => fake!.callsOf("discover").length === 2, "second discovery");
    expect(fake!.callsOf("discover")[1]?.args).toEqual({
      url: "https://mcp.example.com/mcp",
      authorizationServer: "https://b.example",
      request: expect.any(String),
    });
  });
});

describe("sign-in links and stray callbacks", () => {
  it("asks before acting on a link, then discovers with its URL", async () => {
    const { root, fake } = await boot({
      accounts: [],
      pendingLink: { url: "https://mcp.example.com/mcp", scopes: ["mcp:write"] },
    });
    await el(root, "link-confirm");
    expect(root.textContent).toContain("Sign in to https://mcp.example.com/mcp?");
    expect(fake!.callsOf("discover")).toHaveLength(0);
    click($(root, "link-confirm")!);
    await el(root, "add-preview");
    expect(($(root, "add-url") as HTMLInputElement).value).toBe("https://mcp.example.com/mcp");
    expect(($(root, "scope-mcp:write") as HTMLInputElement).checked).toBe(true);
    expect($(root, "link-confirm")).toBeNull();
  });

  it("a link event shows the question; dismiss does nothing", async () => {
    const { root, fake } = await boot({ accounts: [] });
    await fake!.emit("signin-link", { url: "https://other.example/mcp", scopes: [] });
    click(await el(root, "link-dismiss"));
    await until(() => !$(root, "link-confirm"), "prompt gone");
    expect(fake!.callsOf("discover")).toHaveLength(0);
    expect(location.hash).toBe("#/accounts");
  });

  it("shows a refusal banner for an unsolicited callback", async () => {
    const { root, fake } = await boot({ accounts: [] });
    await fake!.emit("unsolicited-callback", "no sign-in is waiting for this answer");
    const b = await el(root, "banner-unsolicited");
    expect(b.textContent).toContain("Ignored a sign-in answer that matches no sign-in in progress");
    expect(b.textContent).toContain("no sign-in is waiting");
  });
});

describe("import", () => {
  it("lists candidates with an already-signed-in badge and opens Add server prefilled", async () => {
    const { root, fake } = await boot({ accounts: [] }, "#/import");
    const rows = await until(() => $$(root, "import-row").length === 2 && $$(root, "import-row"), "rows");
    expect($(rows[0]!, "import-signed-in")).toBeNull();
    expect($(rows[1]!, "import-signed-in")?.textContent).toBe("already signed in");
    click($(rows[0]!, "import-signin")!);
    await el(root, "add-preview");
    expect(fake!.callsOf("discover")[0]?.args.url).toBe("https://mcp.example.com/mcp");
  });
});

describe("account detail", () => {
  it("says whose refresh token an account that shares a sign-in uses, and lets it refresh", async () => {
    const holder = fx.sampleAccounts()[0]!;
    const shared = fx.account({
      id: "s4a2e3d0",
      name: "second tools",
      server_url: "https://mcp2.example.com/mcp",
      resource: "https://mcp2.example.com/mcp",
      has_refresh_token: false,
      grant_holder: holder.id,
      is_default: true,
    });
    const { root } = await boot({ accounts: [holder, shared] }, `#/account/${shared.id}`);
    await el(root, "detail-header");
    const row = await el(root, "token-has-refresh");
    expect(row.textContent).toContain(`uses the refresh token of ${holder.name}`);
    expect(row.textContent).toContain(`whose sign-in at ${holder.issuer} it shares`);
    const refresh = $$(root, "detail-refresh")[0] as HTMLButtonElement | undefined;
    expect(refresh, "a refresh button").toBeDefined();
    expect(refresh!.disabled, "it can refresh through the holder").toBe(false);
  });

  const open = async (opts: FakeOptions = {}) => {
    const b = await boot({ accounts: fx.sampleAccounts(), ...opts }, "#/account/a1b2c3d4");
    await el(b.root, "detail-header");
    await el(b.root, "activity");
    return b;
  };

  it("shows token facts, the timeline and hides a revealed token again", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const { root } = await open();
      expect($(root, "token-masked")?.textContent).toBe("eyJhbG****");
      expect($(root, "assertion-source"), "a user account reads no JWT").toBeNull();
      expect($(root, "token-has-refresh")?.textContent).toContain("present");
      expect($$(root, "activity")[0]?.querySelectorAll(":scope > li")).toHaveLength(4);
      expect(root.textContent).toContain("temporarily_unavailable");
      // The refresh step expands to its redacted request and answer.
      const exchanges = $(root, "activity-exchanges")!;
      expect(exchanges.textContent).toContain("1 HTTP request");
      expect(exchanges.textContent).toContain("POST https://auth.example.com/token → 200");
      expect(exchanges.textContent).toContain("refresh_token=[redacted]");
      expect(exchanges.textContent).toContain('"access_token": "[redacted]"');
      // Header names that repeat are all shown (a keyed each on the name threw).
      expect(exchanges.textContent).toContain("accept: application/json\naccept: text/event-stream");
      expect(exchanges.textContent).toContain("vary: origin\nvary: accept");
      click($(root, "detail-reveal")!);
      const token = await el(root, "token-value");
      expect(token.textContent).toContain("eyJhbGciOiJSUzI1NiJ9");
      await vi.advanceTimersByTimeAsync(31_000);
      await until(() => !$(root, "token-value"), "token hidden");
      expect($(root, "token-masked")).not.toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("a DPoP-bound account says its token is bound to this device; a Bearer one does not", async () => {
    const bound = fx.account({ id: "d9o0p0b1", token_type: "DPoP" });
    const { root } = await boot({ accounts: [bound] }, "#/account/d9o0p0b1");
    await el(root, "detail-header");
    const type = () => $(root, "token-type")?.textContent?.replace(/\s+/g, " ").trim();
    expect(type()).toContain("DPoP — bound to this device");
    expect(type()).toContain("through MCP Auth's proxy");
    const bearer = await boot({ accounts: [fx.account({ id: "b3a2e2r1" })] }, "#/account/b3a2e2r1");
    await el(bearer.root, "detail-header");
    expect($(bearer.root, "token-type")?.textContent?.trim()).toBe("Bearer");
  });

  type Source = NonNullable<AccountView["assertion_source"]>;
  const workload = (source: Pick<Source, "kind" | "name"> & Partial<Source>) =>
    fx.account({
      id: "w0rk1oad", kind: "machine", client_auth: "none", has_refresh_token: false,
      assertion_source: { idp_client_id: null, id_token_kind: null, id_token_name: null, ...source },
    });
  const sourceText = (root: HTMLElement) => $(root, "assertion-source")?.textContent?.replace(/\s+/g, " ");

  it("a workload identity account says which file each token request reads its JWT from", async () => {
    const { root } = await boot({ accounts: [workload({ kind: "file", name: "/var/run/secrets/tokens/mcp" })] }, "#/account/w0rk1oad");
    expect((await el(root, "detail-header")).textContent).toContain("workload identity");
    expect(sourceText(root)).toContain(
      "read at every token request from the file /var/run/secrets/tokens/mcp. MCP Auth keeps no copy of it.",
    );
  });

  it("a workload identity account says which environment variable it reads, and whose", async () => {
    const { root } = await boot({ accounts: [workload({ kind: "env", name: "CI_OIDC_TOKEN" })] }, "#/account/w0rk1oad");
    await el(root, "detail-header");
    expect(sourceText(root)).toContain("from the environment variable CI_OIDC_TOKEN of the program that asks");
  });

  it("an enterprise-managed account names its identity provider and where the ID token comes from", async () => {
    const idp = { kind: "idp", name: "https://sso.example.com", idp_client_id: "mcpauth-desktop" };
    const { root } = await boot({ accounts: [workload({ ...idp, id_token_kind: "sign-in" })] }, "#/account/w0rk1oad");
    const header = await el(root, "detail-header");
    expect(header.textContent).toContain("enterprise-managed");
    expect(header.textContent).not.toContain("workload identity");
    expect(sourceText(root)).toContain(
      "a fresh identity assertion (ID-JAG) from the identity provider https://sso.example.com (client mcpauth-desktop)",
    );
    expect(sourceText(root)).toContain("the ID token of MCP Auth's sign-in there, kept in the keyring");
    const fromFile = await boot(
      { accounts: [workload({ ...idp, id_token_kind: "file", id_token_name: "/run/sso/id_token" })] },
      "#/account/w0rk1oad",
    );
    await el(fromFile.root, "detail-header");
    expect(sourceText(fromFile.root)).toContain("the ID token read from the file /run/sso/id_token. MCP Auth keeps no copy of it.");
  });

  it("upgrades by refresh and says what was really granted", async () => {
    const { root, fake, flush } = await open();
    click(await el(root, "scope-mcp:write"));
    click($(root, "scope-mcp:admin")!);
    flush();
    click($(root, "detail-upgrade")!);
    const note = await el(root, "upgrade-note");
    expect(fake!.callsOf("upgrade_scopes")[0]?.args).toEqual({ id: "a1b2c3d4", scopes: ["mcp:write", "mcp:admin"] });
    expect(note.textContent).toContain("Granted: mcp:write.");
    expect(note.textContent).toContain("Not granted: mcp:admin.");
  });

  it("an upgrade that needs the browser waits for sign-in-finished", async () => {
    const { root, fake, flush } = await open({ upgrade: "browser" });
    click(await el(root, "scope-mcp:write"));
    flush();
    click($(root, "detail-upgrade")!);
    const waiting = await el(root, "signin-waiting");
    expect(waiting.textContent).toContain("auth.example.com");
    const upgraded = fx.account({ granted_scopes: ["mcp:read", "mcp:write"] });
    fake!.accounts[0] = upgraded;
    await fake!.finishSignIn({ account: upgraded });
    expect((await el(root, "upgrade-result")).textContent).toContain("Granted: mcp:write.");
  });

  it("refreshes, makes default and signs out after a confirmation, showing what was revoked", async () => {
    const accounts = fx.sampleAccounts();
    accounts[0]!.is_default = false;
    const { root, fake } = await boot({ accounts, signOut: { fully_revoked: false, access_token: "not revoked: HTTP 503" } }, "#/account/a1b2c3d4");
    click(await el(root, "detail-refresh"));
    await until(() => fake!.callsOf("refresh_now").length === 1, "refresh");
    click(await el(root, "detail-default"));
    await until(() => fake!.callsOf("set_default").length === 1, "default");
    // Once default, it reads as a status (not a disabled button).
    const status = await el(root, "detail-is-default");
    expect(status.tagName).toBe("SPAN");
    expect(status.textContent).toContain("Default for this server");
    expect($(root, "detail-default")).toBeNull();

    click($(root, "detail-signout")!);
    expect(fake!.callsOf("sign_out")).toHaveLength(0);
    click(await el(root, "detail-signout-confirm"));
    const banner = await el(root, "banner-warning");
    expect(banner.textContent).toContain("Refresh token: revoked");
    expect(banner.textContent).toContain("Access token: not revoked: HTTP 503");
    await until(() => location.hash === "#/accounts", "back to accounts");
  });

  it("previews an export diff, then writes it", async () => {
    const { root, fake } = await open();
    expect(($(root, "export-write-vscode") as HTMLButtonElement).disabled).toBe(true);
    click($(root, "export-preview-vscode")!);
    const diff = await el(root, "export-diff-vscode");
    expect(diff.tagName).toBe("PRE");
    expect(diff.textContent).toContain('"headersHelper"');
    expect(diff.querySelectorAll(".d-add").length).toBeGreaterThan(0);
    click($(root, "export-write-vscode")!);
    expect((await el(root, "export-message-vscode")).textContent).toMatch(/^Wrote /);
    expect(fake!.callsOf("export_write")[0]?.args).toEqual({
      target: "vscode",
      id: "a1b2c3d4",
      path: "/home/alice/project/.vscode.json",
    });
  });

  it("copies the token and the header through the backend", async () => {
    const { root, fake } = await open();
    click($(root, "export-copy-header")!);
    expect((await el(root, "export-copy-note")).textContent).toContain("60 s");
    click($(root, "export-copy-token")!);
    await until(() => fake!.callsOf("copy_token").length === 1, "copy_token");
    expect(fake!.callsOf("copy_header")).toHaveLength(1);
  });
});

describe("machine accounts", () => {
  it("validates, then adds with a key read from a file", async () => {
    const { root, fake } = await boot({ accounts: [] }, "#/machine");
    type(await el(root, "machine-url"), "https://mcp.example.com/mcp");
    type($(root, "machine-client-id")!, "bot");
    click($(root, "machine-submit")!);
    expect((await el(root, "machine-error")).textContent).toMatch(/client secret or a private key/);
    expect(fake!.callsOf("add_machine_account")).toHaveLength(0);

    const pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----\n";
    const file = new File([pem], "bot.pem", { type: "text/plain" });
    const input = $(root, "machine-key-file") as HTMLInputElement;
    Object.defineProperty(input, "files", { value: [file], configurable: true });
    input.dispatchEvent(new Event("change", { bubbles: true }));
    await until(() => ($(root, "machine-key") as HTMLTextAreaElement).value === pem, "key read");
    expect(($(root, "machine-secret") as HTMLInputElement).disabled).toBe(true);
    const alg = $(root, "machine-alg") as HTMLSelectElement;
    alg.value = "EdDSA";
    alg.dispatchEvent(new Event("change", { bubbles: true }));
    click($(root, "machine-submit")!);
    await el(root, "machine-result");
    expect(fake!.callsOf("add_machine_account")[0]?.args.options).toEqual({
      mcp_url: "https://mcp.example.com/mcp",
      name: null,
      client_id: "bot",
      client_secret: null,
      private_key: pem,
      signing_alg: "EdDSA",
      scopes: [],
    });
    // The key is forgotten once it is in the keyring.
    expect(($(root, "machine-key") as HTMLTextAreaElement).value).toBe("");
  });
});

describe("machine accounts through an identity provider", () => {
  it("offers the identity providers signed in at, and sends the chosen one", async () => {
    const { root, fake } = await boot(
      {
        accounts: [],
        identityProviders: [
          { issuer: "https://sso.example.com", client_id: "mcpauth-desktop", signed_in_as: "kim@example.com", expires_at: null, id_token_from: null, servers: [] },
          { issuer: "https://gone.example.com", client_id: "x", signed_in_as: null, expires_at: null, id_token_from: null, servers: [] },
        ],
      },
      "#/machine",
    );
    const select = (await el(root, "machine-tokens-from")) as HTMLSelectElement;
    const options = [...select.options].map((o) => o.textContent?.trim());
    expect(options).toEqual([
      "this client alone (client credentials)",
      "organisation sign-in at https://sso.example.com (kim@example.com)",
    ]);
    select.value = select.options[1]!.value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
    expect((await el(root, "machine-idp-note")).textContent).toContain("ID-JAG from https://sso.example.com");
    type($(root, "machine-url")!, "https://mcp.example.com/mcp");
    type($(root, "machine-client-id")!, "as-client");
    type($(root, "machine-secret")!, "as-secret");
    click($(root, "machine-submit")!);
    await el(root, "machine-result");
    expect(fake!.callsOf("add_machine_account")[0]?.args.options).toMatchObject({
      client_id: "as-client",
      client_secret: "as-secret",
      idp: { issuer: "https://sso.example.com", client_id: "mcpauth-desktop" },
    });
  });
});

describe("settings", () => {
  it("shows the keyring backend and saves", async () => {
    const { root, fake } = await boot({ accounts: [] }, "#/settings");
    expect((await el(root, "settings-storage")).textContent).toContain("Secret Service");
    click(await el(root, "settings-redirect-deep_link"));
    type($(root, "settings-cimd")!, "https://example.com/mcpauth.json");
    click($(root, "settings-start-at-login")!);
    click($(root, "settings-save")!);
    await el(root, "settings-saved");
    expect(fake!.callsOf("set_settings")[0]?.args).toEqual({
      settings: {
        redirect: "deep_link",
        client_metadata_url: "https://example.com/mcpauth.json",
        refresh_skew_secs: 60,
        start_at_login: true,
      },
    });
  });

  it("lists the identity providers with who is signed in there and their servers", async () => {
    const now = Math.floor(Date.now() / 1000);
    const { root } = await boot(
      {
        accounts: [],
        identityProviders: [
          {
            issuer: "https://sso.example.com", client_id: "mcpauth-desktop", signed_in_as: "kim@example.com",
            expires_at: now + 1800, id_token_from: null, servers: ["https://a.example/mcp", "https://b.example/mcp"],
          },
          { issuer: "https://old-sso.example.com", client_id: "mcpauth", signed_in_as: null, expires_at: null, id_token_from: null, servers: [] },
          {
            issuer: "https://ci-sso.example.com", client_id: "ci", signed_in_as: null, expires_at: null,
            id_token_from: "the file /run/sso/id_token", servers: ["https://c.example/mcp"],
          },
        ],
      },
      "#/settings",
    );
    const shown = await until(() => {
      const rows = [...root.querySelectorAll('[data-testid="settings-idp"]')].map((e) => e.textContent?.replace(/\s+/g, " ") ?? "");
      return rows.length === 3 && rows;
    }, "three identity providers");
    expect(shown[0]).toContain("https://sso.example.com");
    expect(shown[0]).toContain("mcpauth-desktop");
    expect(shown[0]).toContain("as kim@example.com · its ID token");
    expect(shown[0]).toMatch(/its ID token expires in \d+ min; MCP Auth renews it/);
    expect(shown[0]).toContain("https://a.example/mcp, https://b.example/mcp");
    expect(shown[0]).toContain("Sign in again");
    expect(shown[0]).not.toContain("Remove");
    expect(shown[1]).toContain("not signed in");
    expect(shown[1]).toContain("none yet");
    expect(shown[1]).toContain("Remove");
    expect(shown[2]).toContain("ID token read from the file /run/sso/id_token at every exchange");
    expect(shown[2]).not.toContain("Sign in");
  });

  it("signs in at a new identity provider from the form and lists it", async () => {
    const { root, fake } = await boot({ accounts: [] }, "#/settings");
    type(await el(root, "idp-issuer"), "https://sso.example.com/");
    click($(root, "idp-submit")!);
    expect((await el(root, "idp-form-error")).textContent).toContain("client id at the identity provider");
    expect(fake!.callsOf("sign_in_to_identity_provider")).toHaveLength(0);
    type($(root, "idp-client-id")!, "mcpauth-desktop");
    type($(root, "idp-client-secret")!, "s3cret");
    click($(root, "idp-submit")!);
    const row = await until(
      () => $$(root, "settings-idp").find((e) => e.textContent?.includes("alice@example.com")),
      "the signed-in identity provider",
    );
    expect(row.textContent).toContain("https://sso.example.com/");
    expect(fake!.callsOf("sign_in_to_identity_provider")[0]?.args).toEqual({
      options: { issuer: "https://sso.example.com/", client_id: "mcpauth-desktop", client_secret: "s3cret" },
    });
    // The secret is not kept in the form.
    expect(($(root, "idp-client-secret") as HTMLInputElement).value).toBe("");
    expect($(root, "banner-success")?.textContent).toContain("Signed in at https://sso.example.com/ as alice@example.com");
  });

  it("says why a sign-in at the identity provider failed", async () => {
    const { root } = await boot(
      {
        accounts: [],
        failures: {
          sign_in_to_identity_provider: { kind: "failure", message: "https://sso.example.com is not an OpenID provider" },
        },
      },
      "#/settings",
    );
    type(await el(root, "idp-issuer"), "https://sso.example.com");
    type($(root, "idp-client-id")!, "mcpauth-desktop");
    click($(root, "idp-submit")!);
    expect((await el(root, "idp-form-error")).textContent).toContain("is not an OpenID provider");
  });

  it("warns about the plaintext store", async () => {
    const { root } = await boot(
      { accounts: [], info: { version: "0.1.0", storage_backend: "plaintext file", home: "/x" } },
      "#/settings",
    );
    expect((await el(root, "settings-storage")).parentElement?.textContent).toMatch(/plain file/);
  });
});

describe("navigation", () => {
  it("has every nav link with a real href and the current one marked", async () => {
    const { root } = await boot({ accounts: [] });
    for (const id of ["nav-accounts", "nav-add", "nav-import", "nav-machine", "nav-settings"]) {
      expect($(root, id)?.getAttribute("href")).toMatch(/^#\//);
    }
    expect($(root, "nav-accounts")?.getAttribute("aria-current")).toBe("page");
    click($(root, "nav-settings")!);
    await el(root, "settings-save");
    expect($(root, "nav-settings")?.getAttribute("aria-current")).toBe("page");
    expect($(root, "nav-accounts")?.getAttribute("aria-current")).toBeNull();
  });
});
