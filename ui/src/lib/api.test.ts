import { afterEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { api, EXPORT_TARGETS, hasBackend } from "./api";
import { NO_BACKEND } from "./errors";
// The backend's registration and permission files, read as text (vite ?raw).
import apiSource from "./api.ts?raw";
import backendLib from "../../../src-tauri/src/lib.rs?raw";
import backendCommands from "../../../src-tauri/src/commands.rs?raw";
import capabilities from "../../../src-tauri/capabilities/default.json?raw";

type Seen = { cmd: string; args: unknown };

function record(answer: (cmd: string) => unknown = () => null): Seen[] {
  const seen: Seen[] = [];
  mockIPC((cmd, args) => {
    seen.push({ cmd, args });
    return answer(cmd);
  });
  return seen;
}

afterEach(() => {
  clearMocks();
  delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__;
});

describe("api", () => {
  it("rejects with a no_backend AppError outside the app", async () => {
    expect(hasBackend()).toBe(false);
    await expect(api.listAccounts()).rejects.toMatchObject({ kind: NO_BACKEND });
  });

  it("sends the commands with camelCase argument names", async () => {
    const seen = record();
    const options = {
      mcp_url: "https://m/mcp",
      name: null,
      scopes: [],
      redirect: "loopback",
      client_id: null,
      client_secret: null,
      authorization_server: null,
      account: null,
    };
    await api.listAccounts();
    await api.accountDetail("a1");
    await api.discover("https://m/mcp");
    await api.discover("https://m/mcp", "https://as");
    await api.beginSignIn(options);
    await api.cancelSignIn("s1");
    await api.refreshNow("a1");
    await api.upgradeScopes("a1", ["w"]);
    await api.signOut("a1");
    await api.setDefault("a1");
    await api.exportPreview("vscode", "a1");
    await api.exportWrite("cursor", "a1", "/tmp/x.json");
    await api.copyToken("a1");
    await api.copyHeader("a1");
    await api.revealToken("a1");
    await api.importCandidates();
    await api.getSettings();
    await api.setSettings({ redirect: "loopback", client_metadata_url: null, refresh_skew_secs: 60, start_at_login: false });
    await api.appInfo();
    await api.pendingLink();
    expect(seen).toEqual([
      { cmd: "list_accounts", args: {} },
      { cmd: "account_detail", args: { id: "a1" } },
      { cmd: "discover", args: { url: "https://m/mcp", authorizationServer: null, request: null } },
      { cmd: "discover", args: { url: "https://m/mcp", authorizationServer: "https://as", request: null } },
      { cmd: "begin_sign_in", args: { options } },
      { cmd: "cancel_sign_in", args: { id: "s1" } },
      { cmd: "refresh_now", args: { id: "a1" } },
      { cmd: "upgrade_scopes", args: { id: "a1", scopes: ["w"] } },
      { cmd: "sign_out", args: { id: "a1" } },
      { cmd: "set_default", args: { id: "a1" } },
      { cmd: "export_preview", args: { target: "vscode", id: "a1", path: null } },
      { cmd: "export_write", args: { target: "cursor", id: "a1", path: "/tmp/x.json" } },
      { cmd: "copy_token", args: { id: "a1" } },
      { cmd: "copy_header", args: { id: "a1" } },
      { cmd: "reveal_token", args: { id: "a1" } },
      { cmd: "import_candidates", args: {} },
      { cmd: "get_settings", args: {} },
      { cmd: "set_settings", args: { settings: { redirect: "loopback", client_metadata_url: null, refresh_skew_secs: 60, start_at_login: false } } },
      { cmd: "app_info", args: {} },
      { cmd: "pending_link", args: {} },
    ]);
  });

  it("passes AppErrors through and wraps anything else", async () => {
    mockIPC((cmd) => {
      if (cmd === "refresh_now") throw { kind: "needs_sign_in", message: "sign in again" };
      throw new Error("kaput");
    });
    await expect(api.refreshNow("a")).rejects.toEqual({ kind: "needs_sign_in", message: "sign in again" });
    await expect(api.listAccounts()).rejects.toEqual({ kind: "failure", message: "kaput" });
  });

  it("adds machine accounts with the options object", async () => {
    const seen = record(() => ({ id: "m1" }));
    const options = {
      mcp_url: "https://m/mcp",
      name: null,
      client_id: "bot",
      client_secret: "s",
      private_key: null,
      signing_alg: null,
      scopes: [],
    };
    await expect(api.addMachineAccount(options)).resolves.toEqual({ id: "m1" });
    expect(seen).toEqual([{ cmd: "add_machine_account", args: { options } }]);
  });
});

describe("agreement with the backend", () => {
  it("every command the UI calls is registered and allowed for the window", () => {
    const used = [...apiSource.matchAll(/call<[^>]*>\(\s*"([a-z_]+)"/g)].map((m) => m[1]!);
    expect(used.length).toBeGreaterThan(15);
    const caps = JSON.parse(capabilities) as { permissions: string[] };
    for (const cmd of used) {
      expect(backendLib, `${cmd} registered`).toMatch(new RegExp(`(commands|idp)::${cmd}\\b`));
      expect(caps.permissions, `${cmd} allowed`).toContain(`allow-${cmd.replace(/_/g, "-")}`);
    }
  });

  it("the export targets are the ones the backend parses", () => {
    expect(backendCommands).toContain("Target::parse");
    for (const t of EXPORT_TARGETS) expect(backendCommands + backendLib).not.toContain(`"${t}" is unknown`);
    expect([...EXPORT_TARGETS]).toEqual(["claude-code", "claude-desktop", "vscode", "cursor"]);
  });
});
