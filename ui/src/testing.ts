// The helpers of the component tests (app.test.ts, share.test.ts): the whole
// UI mounted in jsdom over the fake backend (src/dev/fake-backend.ts), found
// through the data-testid hooks the end-to-end tests use too. Not in the
// app's build.

import { afterEach, beforeAll, vi } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import type { FakeBackend, FakeOptions } from "./dev/fake-backend";
import type { AppState } from "./lib/store.svelte";

export interface Booted {
  fake: FakeBackend | null;
  app: AppState;
  root: HTMLElement;
  flush: () => void;
}

let cleanup: (() => void) | null = null;
/** The boot in flight: the next one waits for it (see boot). */
let booting: Promise<unknown> = Promise.resolve();

/** Fresh modules, a fake backend (unless null), the App mounted and started. */
export async function boot(opts: FakeOptions | null = {}, hash = "#/accounts"): Promise<Booted> {
  // Boots never overlap. A test that ran out of time leaves its boot running;
  // resetting the modules under it would hand the next test modules evaluated
  // half-way (Svelte's runtime without its exports: "proxy is not a function").
  const previous = booting;
  let done!: () => void;
  booting = new Promise<void>((resolve) => (done = resolve));
  try {
    await previous;
    cleanup?.(); // whatever that late boot mounted
    cleanup = null;
    return await bootNow(opts, hash);
  } finally {
    done();
  }
}

async function bootNow(opts: FakeOptions | null, hash: string): Promise<Booted> {
  vi.resetModules();
  history.replaceState(null, "", hash);
  const { installFakeBackend } = await import("./dev/fake-backend");
  const fake = opts === null ? null : installFakeBackend(opts);
  const { mount, unmount, flushSync } = await import("svelte");
  const { default: App } = await import("./App.svelte");
  const { app } = await import("./lib/store.svelte");
  document.body.innerHTML = '<div id="app"></div>';
  const root = document.getElementById("app")!;
  const component = mount(App, { target: root });
  await app.start();
  flushSync();
  cleanup = () => {
    app.stop();
    void unmount(component);
  };
  return { fake, app, root, flush: flushSync };
}


// (jsdom has no CSS.escape; inside double quotes only " and \ need escaping.)
const sel = (testid: string) => `[data-testid="${testid.replace(/["\\]/g, "\\$&")}"]`;
export const $ = (root: ParentNode, testid: string) => root.querySelector<HTMLElement>(sel(testid));
export const $$ = (root: ParentNode, testid: string) => [...root.querySelectorAll<HTMLElement>(sel(testid))];

/** How long `until` waits: by the clock, so that a loaded machine's slow timers do not shorten it. */
const UNTIL_MS = 10_000;

/** Waits until `find` returns something truthy (the UI settles over a few promises). */
export async function until<T>(find: () => T | null | undefined | false, what = "condition"): Promise<T> {
  const deadline = Date.now() + UNTIL_MS;
  for (;;) {
    const v = find();
    if (v) return v;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out after ${UNTIL_MS} ms waiting for ${what}; the page:\n${document.body.innerHTML.slice(0, 3000)}`);
}

export const el = (root: ParentNode, testid: string) => until(() => $(root, testid), testid);

export function type(input: HTMLElement, value: string) {
  (input as HTMLInputElement).value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

export function click(e: HTMLElement) {
  e.click();
}

/**
 * The hooks every file of these tests needs: the components compiled once,
 * and each test's mount, mocks and page cleared after it. Call it at the top
 * of the file.
 */
export function useAppTests(): void {
  // Compiling the components (Svelte to JavaScript) happens on their first
  // import and is kept across vi.resetModules(), which only forgets the
  // evaluated modules. Done once here, with a bound that fits a loaded 2-core
  // machine, it is not charged to whichever test happens to run first.
  beforeAll(async () => {
    await import("./App.svelte");
    await import("./dev/fake-backend");
  }, 120_000);

  afterEach(() => {
    cleanup?.();
    cleanup = null;
    clearMocks();
    delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__;
    document.body.innerHTML = "";
  });
}
