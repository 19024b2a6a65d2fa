// Typed wrappers over the app's Tauri commands and events. Argument names are
// the camelCase of the Rust parameters (Tauri's default). Every failure
// rejects with an AppError {kind, message}.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

import type {
  AccountDetail,
  AccountView,
  AppInfo,
  DiscoveryPreview,
  DiscoveryStepEvent,
  ExportPreview,
  IdentityProvider,
  IdentityProviderOptions,
  IdentityProviderView,
  IdpSignInStarted,
  ImportCandidateView,
  MachineAccountOptions,
  Settings,
  SignInFinished,
  SignInLink,
  SignInOptions,
  SignInStarted,
  SharedSignInResult,
  SignOutResult,
  StartupMark,
  UpgradeResult,
  VaultChange,
  WindowState,
} from "../bindings";
import { NO_BACKEND, NO_BACKEND_MESSAGE, toAppError } from "./errors";

/** The config files `export_preview` / `export_write` can edit. */
export const EXPORT_TARGETS = ["claude-code", "claude-desktop", "vscode", "cursor"] as const;
export type ExportTarget = (typeof EXPORT_TARGETS)[number];

export const EXPORT_TARGET_LABELS: Record<ExportTarget, string> = {
  "claude-code": "Claude Code",
  "claude-desktop": "Claude Desktop",
  vscode: "VS Code",
  cursor: "Cursor",
};

/** Whether the page runs inside the Tauri app (its IPC bridge is there). */
export function hasBackend(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  if (!hasBackend()) throw { kind: NO_BACKEND, message: NO_BACKEND_MESSAGE };
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toAppError(e);
  }
}

export const api = {
  listAccounts: () => call<AccountView[]>("list_accounts"),
  accountDetail: (id: string) => call<AccountDetail>("account_detail", { id }),
  /** Discovery; with `request`, each step also arrives as a `discovery-step` event carrying it. */
  discover: (url: string, authorizationServer: string | null = null, request: string | null = null) =>
    call<DiscoveryPreview>("discover", { url, authorizationServer, request }),
  beginSignIn: (options: SignInOptions) => call<SignInStarted>("begin_sign_in", { options }),
  /** Adds a server with the sign-in of account `through`, without a browser. */
  shareSignIn: (options: SignInOptions, through: string) =>
    call<SharedSignInResult>("share_sign_in", { options, through }),
  cancelSignIn: (id: string) => call<boolean>("cancel_sign_in", { id }),
  refreshNow: (id: string) => call<AccountView>("refresh_now", { id }),
  upgradeScopes: (id: string, scopes: string[]) =>
    call<UpgradeResult>("upgrade_scopes", { id, scopes }),
  signOut: (id: string) => call<SignOutResult>("sign_out", { id }),
  addMachineAccount: (options: MachineAccountOptions) =>
    call<AccountView>("add_machine_account", { options }),
  /** The identity providers of Settings, and those accounts sign in through. */
  identityProviders: () => call<IdentityProviderView[]>("identity_providers"),
  /** Resolves once the user has signed in there in the browser (or it failed). */
  signInToIdentityProvider: (options: IdentityProviderOptions) =>
    call<IdentityProviderView>("sign_in_to_identity_provider", { options }),
  forgetIdentityProvider: (provider: IdentityProvider) =>
    call<null>("forget_identity_provider", { provider }),
  setDefault: (id: string) => call<null>("set_default", { id }),
  exportPreview: (target: ExportTarget, id: string, path: string | null = null) =>
    call<ExportPreview>("export_preview", { target, id, path }),
  exportWrite: (target: ExportTarget, id: string, path: string | null = null) =>
    call<string>("export_write", { target, id, path }),
  copyToken: (id: string) => call<null>("copy_token", { id }),
  copyHeader: (id: string) => call<null>("copy_header", { id }),
  revealToken: (id: string) => call<string>("reveal_token", { id }),
  importCandidates: () => call<ImportCandidateView[]>("import_candidates"),
  getSettings: () => call<Settings>("get_settings"),
  setSettings: (settings: Settings) => call<Settings>("set_settings", { settings }),
  appInfo: () => call<AppInfo>("app_info"),
  /** Tells the app the accounts list is on screen (start-up timing). */
  firstRender: (accounts: number, marks: StartupMark[]) =>
    call<void>("first_render", { accounts, marks }),
  pendingLink: () => call<SignInLink | null>("pending_link"),
  pendingNotices: () => call<string[]>("pending_notices"),
  /** What a closed window left: sign-ins in progress and how others ended. Events come to this page from now on. */
  windowState: () => call<WindowState>("window_state"),
  /** The screen shown now, for the window built after this one closes. */
  rememberRoute: (hash: string) => call<null>("remember_route", { hash }),
};

export type Api = typeof api;

/** The events the backend emits, with their payloads. */
export interface AppEvents {
  "vault-changed": VaultChange | null;
  "sign-in-finished": SignInFinished;
  "signin-link": SignInLink;
  "unsolicited-callback": string;
  "unknown-link": string;
  "discovery-step": DiscoveryStepEvent;
  "idp-sign-in-started": IdpSignInStarted;
}

/** Listens to a backend event; resolves to a no-op unlisten when there is no backend. */
export async function on<K extends keyof AppEvents>(
  event: K,
  handler: (payload: AppEvents[K]) => void,
): Promise<UnlistenFn> {
  if (!hasBackend()) return () => {};
  return listen<AppEvents[K]>(event, (e) => handler(e.payload));
}
