// Adding a server with the sign-in of an account at the same authorization
// server (no browser), and signing out an account whose sign-in others share:
// what the screens draw, over the fake backend.

import { describe, expect, it } from "vitest";
import type { ShareOfferView } from "./bindings";
import * as fx from "./dev/fixtures";
import { $, boot, click, el, until, useAppTests } from "./testing";

useAppTests();

const NEW_SERVER = "https://tools.example.com/mcp";

/** alice's account on another server at the same authorization server. */
const holder = () =>
  fx.account({
    id: "h0ld3r00",
    name: "work",
    server_url: "https://mcp.example.com/mcp",
    resource: "https://mcp.example.com/mcp",
    granted_scopes: ["mcp:read", "mcp:write"],
  });

const offer = (over: Partial<ShareOfferView> = {}): ShareOfferView => ({
  account_id: "h0ld3r00",
  unavailable: null,
  answered_before: null,
  detail: null,
  ...over,
});

const preview = (offers: ShareOfferView[], over = {}) =>
  fx.preview({ mcp_url: NEW_SERVER, resource: NEW_SERVER, share_offers: offers, ...over });

async function discover(root: HTMLElement) {
  const url = (await el(root, "add-url")) as HTMLInputElement;
  url.value = NEW_SERVER;
  url.dispatchEvent(new Event("input", { bubbles: true }));
  click($(root, "add-discover")!);
  await el(root, "add-preview");
}

const text = (e: HTMLElement) => e.textContent!.replace(/\s+/g, " ").trim();

describe("add server with a shared sign-in", () => {
  it("offers the sign-in of an account at the same authorization server, and adds the server with it", async () => {
    const { root, fake, app } = await boot({ accounts: [holder()], discover: preview([offer()]) }, "#/add");
    await discover(root);
    const box = await el(root, "add-share");
    expect(text(box)).toContain("You are signed in at auth.example.com as alice@example.com (account work)");
    expect(text(box)).toContain("without the browser");
    // Never asked there before: what a refusal may cost is said before the click.
    expect(text(await el(root, "add-share-risk"))).toContain("if this one refuses, work will need to sign in again");
    expect($(root, "add-share-history")).toBeNull();
    expect($(root, "add-share-scopes")).toBeNull();

    click($(root, "add-share-signin")!);
    const result = await el(root, "add-result");
    expect(text(result)).toContain("Signed in to tools.example.com");
    expect(text(await el(root, "add-result-shared"))).toContain("shared with account work: no browser was needed");
    const [call] = fake!.callsOf("share_sign_in");
    expect(call?.args.through).toBe("h0ld3r00");
    expect(call?.args.options).toMatchObject({ mcp_url: NEW_SERVER, scopes: ["mcp:read"], client_id: null, account: null });
    expect(fake!.callsOf("begin_sign_in")).toHaveLength(0);
    const added = app.accounts.find((a) => a.server_url === NEW_SERVER);
    expect(added?.grant_holder).toBe("h0ld3r00");
    // The next server starts on a form that is not waiting for anything.
    click($(root, "add-another")!);
    expect(((await el(root, "add-discover")) as HTMLButtonElement).disabled).toBe(false);
  });

  it("asks only for the scopes the shared grant holds, and says which it leaves to the browser", async () => {
    const { root, fake } = await boot(
      { accounts: [holder()], discover: preview([offer({ answered_before: "accepted", detail: "accepted for https://mcp.example.com/mcp" })]) },
      "#/add",
    );
    await discover(root);
    expect(text(await el(root, "add-share-history"))).toContain("accepted such a request for this client before");
    expect($(root, "add-share-risk")).toBeNull();
    click($(root, "scope-mcp:admin")!);
    const note = await el(root, "add-share-scopes");
    expect(text(note)).toBe(
      "That sign-in does not hold mcp:admin, so it asks for mcp:read only; the browser can ask for the rest.",
    );
    click($(root, "add-share-signin")!);
    await el(root, "add-result");
    expect(fake!.callsOf("share_sign_in")[0]?.args.options).toMatchObject({ scopes: ["mcp:read"] });
  });

  it("shows a refusal, and what it cost the account whose sign-in was offered; the browser stays the way in", async () => {
    const refused = "https://auth.example.com refused: invalid_target; and the sign-in of account h0ld3r00 no longer works (invalid_grant)";
    const { root, app, fake } = await boot(
      { accounts: [holder()], discover: preview([offer()]), share: { refused, holderNeedsSignIn: true } },
      "#/add",
    );
    await discover(root);
    click(await el(root, "add-share-signin"));
    const alert = await el(root, "add-share-refused");
    expect(text(alert)).toContain("auth.example.com did not accept that sign-in for this server. No account was made");
    expect(text(alert)).toContain(refused);
    expect($(root, "add-share-signin")).toBeNull();
    expect(($(root, "add-signin") as HTMLButtonElement).disabled).toBe(false);
    expect(app.account("h0ld3r00")?.status.state).toBe("needs_sign_in");
    expect(fake!.accounts).toHaveLength(1);

    // Another discovery starts the offer afresh: no refusal of the last one.
    click($(root, "add-discover")!);
    await until(() => !$(root, "add-share-refused"), "the refusal gone");
    await el(root, "add-share");

    // The way back for the account whose sign-in the refusal cost.
    click(await el(root, "add-share-signin"));
    const back = await el(root, "add-share-open-holder");
    expect(text(back)).toBe("Open work to sign in again");
    click(back);
    await until(() => app.route.screen === "detail", "the holder's account");
    expect(app.route).toEqual({ screen: "detail", id: "h0ld3r00" });
  });

  it("keeps the other ways in shut while the authorization server is asked", async () => {
    const { root, fake } = await boot({ accounts: [holder()], discover: preview([offer()]), shareDelayMs: 400 }, "#/add");
    await discover(root);
    click(await el(root, "add-share-signin"));
    const button = (id: string) => $(root, id) as HTMLButtonElement;
    await until(() => button("add-share-signin").disabled, "the share button busy");
    expect(button("add-signin").disabled).toBe(true);
    expect(button("add-discover").disabled).toBe(true);
    // Enter in the form does not start a browser sign-in beside it.
    $(root, "add-signin")!.closest("form")!.requestSubmit();
    await el(root, "add-result");
    expect(fake!.callsOf("begin_sign_in")).toHaveLength(0);
    expect(fake!.callsOf("share_sign_in")).toHaveLength(1);
  });

  it("says why a sign-in is not offered: bound to this device, or refused there before", async () => {
    const dpop = fx.account({ id: "dp0p0000", name: "bound", server_url: "https://b.example.com/mcp", resource: "https://b.example.com/mcp" });
    const { root } = await boot(
      {
        accounts: [holder(), dpop],
        discover: preview([
          offer({ answered_before: "refused", detail: "invalid_target" }),
          offer({ account_id: "dp0p0000", unavailable: "its tokens are bound to a key of this device (DPoP), one per account" }),
        ]),
      },
      "#/add",
    );
    await discover(root);
    const list = await el(root, "add-share-withheld");
    expect(text(list)).toContain(
      "The sign-in of work is not offered: its authorization server refused such a request before (invalid_target).",
    );
    expect(text(list)).toContain("The sign-in of bound is not offered: its tokens are bound to a key of this device (DPoP)");
    expect($(root, "add-share")).toBeNull();
    expect($(root, "add-signin")).not.toBeNull();
    // A refusal may have been for that server alone: the user may offer it again, warned.
    expect($(root, "add-share-ask-again-dp0p0000")).toBeNull();
    click($(root, "add-share-ask-again-h0ld3r00")!);
    expect(text(await el(root, "add-share"))).toContain("(account work)");
    expect(text(await el(root, "add-share-risk"))).toContain("if this one refuses, work will need to sign in again");
    expect(text($(root, "add-share-withheld")!)).not.toContain("The sign-in of work");
  });

  it("lets the user choose whose sign-in when two people are signed in there", async () => {
    const bob = fx.account({ id: "b0b00000", name: "bob's", subject: "bob@example.com", server_url: "https://c.example.com/mcp", resource: "https://c.example.com/mcp" });
    const { root, fake } = await boot({ accounts: [holder(), bob], discover: preview([offer(), offer({ account_id: "b0b00000" })]) }, "#/add");
    await discover(root);
    click(await el(root, "add-share-holder-b0b00000"));
    await until(() => $(root, "add-share-signin")?.textContent?.includes("bob's"), "bob's sign-in chosen");
    click($(root, "add-share-signin")!);
    await el(root, "add-result");
    expect(fake!.callsOf("share_sign_in")[0]?.args.through).toBe("b0b00000");
  });

  it("offers no shared sign-in when the server has an account already", async () => {
    const existing = fx.account({ id: "e0000000", server_url: NEW_SERVER, resource: NEW_SERVER });
    const { root } = await boot({ accounts: [holder(), existing], discover: preview([offer()], { existing_accounts: ["e0000000"] }) }, "#/add");
    await discover(root);
    click(await el(root, "add-second-account"));
    await el(root, "add-signin");
    expect($(root, "add-share")).toBeNull();
  });

  it("shows the backend's error in the box, and makes no account", async () => {
    const message = "you asked for mcp:admin, which the sign-in of account h0ld3r00 does not hold; drop those scopes, or sign in through the browser";
    const { root, fake } = await boot(
      { accounts: [holder()], discover: preview([offer()]), failures: { share_sign_in: { kind: "invalid", message } } },
      "#/add",
    );
    await discover(root);
    click(await el(root, "add-share-signin"));
    expect(text(await el(root, "add-share-error"))).toContain(message);
    expect($(root, "add-result")).toBeNull();
    expect(fake!.accounts).toHaveLength(1);
  });
});

describe("signing out a shared sign-in", () => {
  const linked = () =>
    fx.account({ id: "l1nked00", name: "tools", server_url: NEW_SERVER, resource: NEW_SERVER, has_refresh_token: false, grant_holder: "h0ld3r00", is_default: false });

  it("names the accounts that share it before, and after, the holder signs out", async () => {
    const { root, fake } = await boot({ accounts: [holder(), linked()] }, "#/account/h0ld3r00");
    click(await el(root, "detail-signout"));
    expect(text(await el(root, "signout-shared"))).toBe("1 account shares this sign-in: tools. It will need to sign in again.");
    expect($(root, "signout-holder")).toBeNull();
    click($(root, "detail-signout-confirm")!);
    const banner = await el(root, "banner-success");
    expect(text(banner)).toContain("tools shared this sign-in and now needs one of its own.");
    expect(fake!.accounts.find((a) => a.id === "l1nked00")?.status.state).toBe("needs_sign_in");
  });

  it("says a sharing account's access token is left to expire, not revoked", async () => {
    const { root } = await boot({ accounts: [holder(), linked()] }, "#/account/l1nked00");
    click(await el(root, "detail-signout"));
    expect(text(await el(root, "signout-holder"))).toBe(
      "This account shares the sign-in of work: its access token is left to expire rather than revoked, since revoking it could end that sign-in too.",
    );
    expect($(root, "signout-shared")).toBeNull();
    const panel = text($(root, "signout-confirm-panel")!);
    expect(panel).toContain("MCP Auth deletes its access token and this account from this computer.");
    expect(panel).not.toContain("revoke the tokens");
    expect(text($(root, "detail-signout-confirm")!)).toBe("Sign out");
  });
});
