// The app's shared state (Svelte 5 runes): the route, the accounts, the
// banners, the sign-in in progress, the confirmation a sign-in link waits for.
// Screens keep their own form state; what outlives a screen lives here.

import type {
  AccountView,
  AppError,
  AppInfo,
  Settings,
  SignInFinished,
  SignInLink,
  SignInProgress,
  SignInStarted,
  VaultChange,
} from "../bindings";
import { tick } from "svelte";

import { api, hasBackend, on } from "./api";
import { errorText, NO_BACKEND, toAppError } from "./errors";
import { describeUpgrade, displayName, hostOf, nowSecs, subjectLabel, upgradeOutcome } from "./format";
import { parseRoute, routeHash, type Route } from "./route";
import { mark, startupMarks } from "./startup";

export type BannerKind = "success" | "error" | "warning" | "info" | "unsolicited";

export interface Banner {
  id: number;
  kind: BannerKind;
  title: string;
  text?: string;
  /** Extra lines (e.g. what a sign-out revoked). */
  lines?: string[];
  /** A button that opens a screen. */
  action?: { label: string; route: Route };
  /** The screen it belongs to (routeHash); it goes when another screen opens. */
  screen?: string;
  /** Shown on every screen until dismissed (an account needing a new sign-in). */
  sticky?: boolean;
}

/** Why a browser sign-in was started. */
export type SignInPurpose = "add" | "reauth" | "upgrade";

export interface PendingSignIn {
  started: SignInStarted;
  purpose: SignInPurpose;
  /** The account being signed in again or upgraded. */
  accountId: string | null;
  /** Its granted scopes before (for an upgrade's outcome). */
  before: string[];
  /** The scopes asked for. */
  asked: string[];
  /** The server, for messages. */
  serverUrl: string;
}

export interface FinishedSignIn {
  purpose: SignInPurpose;
  accountId: string | null;
  account: AccountView | null;
  error: string | null;
  /** For an upgrade: what it changed, in words. */
  outcome: string | null;
}

/** What the Add server screen opens with (from a sign-in link or an import candidate). */
export interface AddPrefill {
  url: string;
  scopes: string[];
  discover: boolean;
  /** Changes with every prefill, so the same URL twice still re-runs. */
  nonce: number;
}

let nextId = 1;

/** The backend's record of a sign-in in progress, as the store keeps it. */
function pendingOf(p: SignInProgress): PendingSignIn {
  const purpose: SignInPurpose = p.purpose === "upgrade" || p.purpose === "reauth" ? p.purpose : "add";
  return {
    started: p.started,
    purpose,
    accountId: p.account_id,
    before: p.before,
    asked: p.asked,
    serverUrl: p.server_url,
  };
}

export class AppState {
  route = $state<Route>({ screen: "accounts" });
  accounts = $state<AccountView[]>([]);
  accountsLoaded = $state(false);
  accountsError = $state<AppError | null>(null);
  settings = $state<Settings | null>(null);
  info = $state<AppInfo | null>(null);
  banners = $state<Banner[]>([]);
  pendingLink = $state<SignInLink | null>(null);
  signIn = $state<PendingSignIn | null>(null);
  lastFinished = $state<FinishedSignIn | null>(null);
  addPrefill = $state<AddPrefill | null>(null);
  /** Unix seconds, ticking every second (for countdowns). */
  now = $state(nowSecs());
  /** Bumped whenever the vault changed, so open screens reload. */
  vaultVersion = $state(0);
  readonly backend: boolean;

  #timers: ReturnType<typeof setInterval>[] = [];
  #unlisten: (() => void)[] = [];

  constructor(backend = hasBackend()) {
    this.backend = backend;
    if (typeof location !== "undefined") this.route = parseRoute(location.hash);
  }

  // ---- lifecycle -----------------------------------------------------------

  /** Starts listening, loads the accounts and settings, and asks for a waiting sign-in link. */
  async start(): Promise<void> {
    const onHash = () => {
      this.route = parseRoute(location.hash);
      this.#dropOtherScreensBanners();
      this.#rememberRoute();
    };
    window.addEventListener("hashchange", onHash);
    this.#unlisten.push(() => window.removeEventListener("hashchange", onHash));
    this.#timers.push(setInterval(() => (this.now = nowSecs()), 1000));

    if (!this.backend) {
      this.accountsLoaded = true;
      this.accountsError = { kind: NO_BACKEND, message: "" };
      this.notify("error", "MCP Auth's backend is not available", {
        text: "This page runs outside the MCP Auth app, so no accounts can be loaded. Start the app itself to sign in to MCP servers.",
      });
      return;
    }

    // All at once: each subscription is a round trip to the backend.
    const subscriptions = await Promise.allSettled([
      on("vault-changed", (change) => this.vaultChanged(change)),
      on("sign-in-finished", (p) => this.signInFinished(p)),
      on("signin-link", (p) => this.offerLink(p)),
      on("unsolicited-callback", (p) =>
        this.notify("unsolicited", "Ignored a sign-in answer", {
          text: `Ignored a sign-in answer that matches no sign-in in progress: ${p}`,
        }),
      ),
      on("unknown-link", (p) =>
        this.notify("warning", "Ignored a link MCP Auth does not understand", { text: p }),
      ),
    ]);
    for (const s of subscriptions) {
      if (s.status === "fulfilled") this.#unlisten.push(s.value);
    }
    const failed = subscriptions.find((s) => s.status === "rejected");
    if (failed) this.error("Cannot listen to the app's events", failed.reason);
    mark("listening");
    this.#rememberRoute();
    // Before anything else: from this call on, events come to this page.
    await this.resumeWindow();
    // A fallback for changes no event announced (e.g. another process refreshed).
    this.#timers.push(setInterval(() => void this.loadAccounts(true), 30_000));

    await Promise.all([this.loadAccounts(), this.loadSettings(), this.checkPendingLink()]);
    mark("loaded");
    // Start-up timing: once the list is in the DOM and the next frame is painted.
    await tick();
    mark("in dom");
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        mark("painted");
        void api.firstRender(this.accounts.length, startupMarks()).catch(() => {});
      }),
    );
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    for (const u of this.#unlisten) u();
    this.#timers = [];
    this.#unlisten = [];
  }

  // ---- navigation ----------------------------------------------------------

  go(route: Route): void {
    this.route = route;
    this.#dropOtherScreensBanners();
    const hash = routeHash(route);
    if (typeof location !== "undefined" && location.hash !== hash) location.hash = hash;
    this.#rememberRoute();
  }

  /** A banner is about the screen it was shown on: it does not follow the user to the next one. */
  #dropOtherScreensBanners(): void {
    const here = routeHash(this.route);
    if (this.banners.some((b) => !b.sticky && b.screen !== here)) {
      this.banners = this.banners.filter((b) => b.sticky || b.screen === here);
    }
  }

  /** Tells the backend the screen shown, so that a window built after this one closes opens on it. */
  #rememberRoute(): void {
    if (this.backend) void api.rememberRoute(routeHash(this.route)).catch(() => {});
  }

  /**
   * Picks up what a closed window left: the sign-in it waited for, and the
   * sign-ins that finished while no window was open (their banners).
   */
  async resumeWindow(): Promise<void> {
    let state;
    try {
      state = await api.windowState();
    } catch {
      return; // an older backend, or none: nothing to resume
    }
    for (const missed of state.finished) {
      if (missed.progress) this.signIn = pendingOf(missed.progress);
      this.signInFinished(missed.event);
    }
    const waiting = state.sign_ins.at(-1);
    if (waiting && !this.signIn) this.signIn = pendingOf(waiting);
  }

  /** Opens Add server with a URL filled in, and runs discovery when asked. */
  openAdd(url: string, scopes: string[] = [], discover = true): void {
    this.addPrefill = { url, scopes, discover, nonce: nextId++ };
    this.go({ screen: "add" });
  }

  // ---- banners -------------------------------------------------------------

  notify(kind: BannerKind, title: string, more: Omit<Banner, "id" | "kind" | "title"> = {}): number {
    const id = nextId++;
    more = { screen: routeHash(this.route), ...more };
    // A new success or notice replaces the older ones (they are stale by now);
    // errors, warnings and refusals stay until dismissed. Newest first, at most five.
    const calm = (k: BannerKind) => k === "success" || k === "info";
    const kept = calm(kind) ? this.banners.filter((b) => !calm(b.kind)) : this.banners;
    this.banners = [{ id, kind, title, ...more }, ...kept].slice(0, 5);
    return id;
  }

  /** An error banner for a failed command. */
  error(title: string, e: unknown): number {
    const err = toAppError(e);
    return this.notify("error", title, { text: errorText(err) });
  }

  dismiss(id: number): void {
    this.banners = this.banners.filter((b) => b.id !== id);
  }

  // ---- data ----------------------------------------------------------------

  /**
   * Reloads the accounts. Calls made while a load is running share it and
   * cause one more load after it, not one each: a thousand accounts refreshed
   * together announce two thousand changes.
   */
  loadAccounts(quiet = false): Promise<void> {
    if (!this.backend) return Promise.resolve();
    if (this.#loading) {
      this.#loadAgain = true;
      return this.#loading;
    }
    this.#loading = (async () => {
      do {
        this.#loadAgain = false;
        await this.#loadAccountsOnce(quiet);
      } while (this.#loadAgain);
    })().finally(() => {
      this.#loading = null;
    });
    return this.#loading;
  }

  #loading: Promise<void> | null = null;
  #loadAgain = false;

  async #loadAccountsOnce(quiet: boolean): Promise<void> {
    try {
      const accounts = await api.listAccounts();
      mark("accounts answered");
      this.accounts = accounts;
      this.accountsError = null;
    } catch (e) {
      const err = toAppError(e);
      if (!quiet || !this.accountsError) this.accountsError = err;
      if (!quiet) this.error("Cannot load the accounts", err);
    } finally {
      this.accountsLoaded = true;
    }
  }

  async loadSettings(): Promise<void> {
    if (!this.backend) return;
    try {
      const [settings, info] = await Promise.all([api.getSettings(), api.appInfo()]);
      mark("settings answered");
      this.settings = settings;
      this.info = info;
    } catch (e) {
      this.error("Cannot load the settings", e);
    }
  }

  account(id: string): AccountView | undefined {
    return this.accounts.find((a) => a.id === id);
  }

  /** Replaces one account in the list (after a command returned it). */
  putAccount(a: AccountView): void {
    const i = this.accounts.findIndex((x) => x.id === a.id);
    if (i >= 0) this.accounts[i] = a;
    else this.accounts = [...this.accounts, a];
  }

  vaultChanged(change: VaultChange | null = null): void {
    this.vaultVersion++;
    void this.loadAccounts(true);
    // The desktop notification may go unseen: say it in the window too, once per account.
    if (change?.kind === "needs_sign_in" && change.account) {
      const title = `Account ${this.accountName(change.account)} needs a new sign-in`;
      if (!this.banners.some((b) => b.title === title)) {
        this.notify("warning", title, {
          text: change.message ?? undefined,
          action: { label: "Open", route: { screen: "detail", id: change.account } },
          sticky: true,
        });
      }
    }
  }

  /** An account's name for messages, or its id when it is not loaded. */
  accountName(id: string): string {
    return this.accounts.find((a) => a.id === id)?.name ?? id;
  }

  // ---- sign-in links -------------------------------------------------------

  async checkPendingLink(): Promise<void> {
    try {
      const link = await api.pendingLink();
      if (link) this.offerLink(link);
      // Forged or stale callbacks that arrived before this page listened.
      const notices = await api.pendingNotices();
      mark("link checked");
      for (const text of notices) {
        this.notify("unsolicited", "Ignored a sign-in answer", {
          text: `Ignored a sign-in answer that matches no sign-in in progress: ${text}`,
        });
      }
    } catch {
      // Nothing waiting, or no backend: nothing to offer.
    }
  }

  /** Shows the confirmation for a `mcpauth://signin` link; nothing happens without a click. */
  offerLink(link: SignInLink): void {
    this.pendingLink = link;
  }

  /** The user confirmed the link: open Add server with its URL and discover. */
  confirmLink(): void {
    const link = this.pendingLink;
    if (!link) return;
    this.pendingLink = null;
    void this.#clearStoredLink(link);
    this.openAdd(link.url, link.scopes, true);
  }

  dismissLink(): void {
    const link = this.pendingLink;
    this.pendingLink = null;
    if (link) void this.#clearStoredLink(link);
  }

  /** The backend keeps the last link until taken; take it so it is not offered again. */
  async #clearStoredLink(handled: SignInLink): Promise<void> {
    try {
      const left = await api.pendingLink();
      if (left && (left.url !== handled.url || left.scopes.join(" ") !== handled.scopes.join(" "))) {
        this.offerLink(left);
      }
    } catch {
      // ignore
    }
  }

  // ---- browser sign-ins ----------------------------------------------------

  beginWaiting(pending: PendingSignIn): void {
    this.signIn = pending;
    this.lastFinished = null;
  }

  async cancelSignIn(): Promise<void> {
    const pending = this.signIn;
    if (!pending) return;
    this.signIn = null;
    try {
      await api.cancelSignIn(pending.started.id);
      this.notify("info", "Sign-in cancelled", {
        text: `The sign-in to ${hostOf(pending.serverUrl)} was cancelled; an answer from the browser for it will be ignored.`,
      });
    } catch (e) {
      this.error("Cannot cancel the sign-in", e);
    }
  }

  /** The backend's `sign-in-finished` event. */
  signInFinished(ev: SignInFinished): void {
    const pending = this.signIn;
    // Deep-link sign-ins finish without an id; loopback ones name theirs.
    const ours = pending && (ev.id === null || ev.id === pending.started.id) ? pending : null;
    if (ours) this.signIn = null;
    const purpose = ours?.purpose ?? "add";
    const accountId = ev.account?.id ?? ours?.accountId ?? null;

    if (ev.account) this.putAccount(ev.account);
    void this.loadAccounts(true);
    this.vaultVersion++;

    // One place per message: the screen that started the sign-in shows how it
    // ended in its own card; a banner only when that screen is not open.
    const shownInline =
      ours !== null &&
      (purpose === "add"
        ? this.route.screen === "add"
        : this.route.screen === "detail" && this.route.id === accountId);

    // A new account's result is kept for the Add server screen only while it
    // is open: shown elsewhere, the banner says it, and Add server opens on
    // a fresh form later, not on a result the user saw long ago.
    const keep = (finished: FinishedSignIn) => {
      this.lastFinished = purpose === "add" && !shownInline ? null : finished;
    };

    if (ev.error !== null || !ev.account) {
      const message = ev.error ?? "The sign-in ended without an account.";
      keep({ purpose, accountId, account: null, error: message, outcome: null });
      if (!shownInline) {
        this.notify("error", purpose === "upgrade" ? "The scope upgrade failed" : "Sign-in failed", {
          text: message,
        });
      }
      return;
    }

    const account = ev.account;
    let outcome: string | null = null;
    if (purpose === "upgrade" && ours) {
      outcome = describeUpgrade(upgradeOutcome(ours.before, account.granted_scopes, ours.asked));
    }
    keep({ purpose, accountId: account.id, account, error: null, outcome });
    if (shownInline) return;
    const who = subjectLabel(account.subject, account.kind);
    const title =
      purpose === "upgrade"
        ? `Scopes upgraded for ${displayName(account)}`
        : `Signed in to ${hostOf(account.server_url)} as ${who}`;
    this.notify("success", title, {
      text:
        outcome ??
        (account.granted_scopes.length
          ? `Granted scopes: ${account.granted_scopes.join(" ")}`
          : "No scopes were named in the grant."),
      action: { label: "Open account", route: { screen: "detail", id: account.id } },
    });
  }
}

export const app = new AppState();
