// End-to-end harness for the MCP Auth desktop app: the real app binary, in a
// real WebKitGTK window, driven through tauri-driver and WebKitWebDriver with
// WebdriverIO's `remote()` API. Tests run with `node --test` (see README.md).
//
// One test file = one tauri-driver = one app (plus restarts) = one throwaway
// MCPAUTH_HOME, HOME and keyring service. Most tests only need `useApp()`:
//
//   import { it } from 'node:test';
//   import { useApp, byText } from './harness.mjs';
//   const app = useApp({ servers: true });          // registers before/afterEach/after hooks
//   it('shows the heading', async () => {
//     await byText(app.browser, 'MCP Auth', { tag: 'h1' }).waitForDisplayed();
//   });
//
// The lower-level pieces (startServers, startDriver, openSession,
// launchSecondInstance, …) are exported too.

import { spawn, execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync,
  readlinkSync, realpathSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { remote } from 'webdriverio';

export const E2E_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(E2E_DIR, '..', '..');
export const SCREENSHOT_DIR = join(E2E_DIR, 'screenshots');
export const LOG_DIR = join(E2E_DIR, 'logs');

const DEFAULT_PORT = 4444;
const DEFAULT_NATIVE_PORT = 4445;

// ---------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------

/** Absolute path of the app binary: $MCPAUTH_APP, else ${CARGO_TARGET_DIR:-target}/debug/mcpauth-app. */
export function appBinary() {
  if (process.env.MCPAUTH_APP) return resolve(process.env.MCPAUTH_APP);
  const target = process.env.CARGO_TARGET_DIR || 'target';
  // cargo resolves a relative CARGO_TARGET_DIR against its working directory;
  // scripts/e2e.sh runs from the repository root, so resolve against it.
  const dir = isAbsolute(target) ? target : resolve(REPO, target);
  return join(dir, 'debug', 'mcpauth-app');
}

/** tauri-driver: $TAURI_DRIVER, else on PATH, else ~/.cargo/bin/tauri-driver. */
export function tauriDriverBinary() {
  if (process.env.TAURI_DRIVER) return process.env.TAURI_DRIVER;
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'tauri-driver'))) return join(dir, 'tauri-driver');
  }
  const cargoHome = process.env.CARGO_HOME || join(process.env.HOME || '/root', '.cargo');
  return join(cargoHome, 'bin', 'tauri-driver');
}

/** A name usable as a file name: "shows the heading" -> "shows-the-heading". */
export function slug(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'unnamed';
}

/** Last `lines` lines of a log file ('' when missing). */
export function tail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}

async function portIsFree(port) {
  const srv = createServer();
  try {
    srv.listen(port, '127.0.0.1');
    await once(srv, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    srv.close();
  }
}

async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Polls `fn` until it returns a truthy value; throws `message` after `timeout` ms. */
export async function waitFor(fn, { timeout = 10_000, interval = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${lastError ? `: ${lastError.message}` : ''}`);
    }
    await sleep(interval);
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Waits for a child process to exit; resolves to {code, signal} or null on timeout. */
async function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode };
  }
  return withTimeout(
    once(child, 'exit').then(([code, signal]) => ({ code, signal })),
    ms,
    'exit',
  ).catch(() => null);
}

// ---------------------------------------------------------------------------
// Processes of one run, found by a marker in their environment
// ---------------------------------------------------------------------------
// tauri-driver, WebKitWebDriver, the app, WebKit's helper processes and any
// second instance all inherit MCPAUTH_E2E_RUN=<id>. That is how cleanup finds
// what outlived its parent (tauri-driver SIGKILLs WebKitWebDriver on SIGTERM,
// which orphans the app).

/** PIDs of live (non-zombie) processes whose environment holds MCPAUTH_E2E_RUN=runId. */
export function runPids(runId) {
  const needle = Buffer.from(`\0MCPAUTH_E2E_RUN=${runId}\0`);
  const first = Buffer.from(`MCPAUTH_E2E_RUN=${runId}\0`);
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`);
      if (!(env.includes(needle) || env.subarray(0, first.length).equals(first))) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z') pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** PIDs of this run's processes running the app binary (the app itself, not WebKit's helpers). */
export function appPids(runId, binary = appBinary()) {
  let real = binary;
  try {
    real = realpathSync(binary);
  } catch {
    // binary removed mid-run: compare with the given path
  }
  return runPids(runId).filter((pid) => {
    try {
      const exe = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
      return exe === real || exe === binary;
    } catch {
      return false;
    }
  });
}

/** The environment of a process, as an object (for checks such as "the app got MCPAUTH_HOME"). */
export function processEnv(pid) {
  const out = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/**
 * Waits up to `settleMs` for the run's processes to end by themselves, then
 * SIGTERMs the rest, waits up to `graceMs`, SIGKILLs what is left. Returns the
 * PIDs that had to be signalled.
 */
export async function sweepRun(runId, { graceMs = 5000, settleMs = 1500 } = {}) {
  // WebKit's network process and a dying app take a moment to go by themselves.
  let pids = runPids(runId);
  for (const until = Date.now() + settleMs; pids.length && Date.now() < until; pids = runPids(runId)) {
    await sleep(100);
  }
  if (pids.length === 0) return [];
  const found = [...pids];
  for (const pid of pids) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(100);
    pids = runPids(runId);
    if (pids.length === 0) return found;
  }
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await sleep(200);
  return found;
}

// ---------------------------------------------------------------------------
// (a) The test servers
// ---------------------------------------------------------------------------

/**
 * Starts `node tests/servers/start.mjs` with a piped stdin (it stops when the
 * pipe closes, so it never outlives this process) and resolves once its one
 * JSON line arrived. Its stderr goes to `logFile`.
 *
 * @returns {Promise<{info: object, proc: import('node:child_process').ChildProcess, stop: () => Promise<void>}>}
 */
export async function startServers({ args = [], env = {}, logFile, timeout = 60_000 } = {}) {
  const script = join(REPO, 'tests', 'servers', 'start.mjs');
  if (!existsSync(join(REPO, 'tests', 'servers', 'node_modules'))) {
    throw new Error('tests/servers has no node_modules: run `npm ci --prefix tests/servers` (scripts/e2e.sh does)');
  }
  const errFd = logFile ? openSync(logFile, 'a') : 'inherit';
  const proc = spawn(process.execPath, [script, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', errFd],
  });
  if (typeof errFd === 'number') closeSync(errFd);
  proc.stdin.on('error', () => {});

  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.stdin.end(); // EOF: start.mjs shuts down
    if (await waitExit(proc, 5000)) return;
    proc.kill('SIGTERM');
    if (await waitExit(proc, 3000)) return;
    proc.kill('SIGKILL');
    await waitExit(proc, 3000);
  };

  try {
    const line = await withTimeout(new Promise((resolveLine, reject) => {
      let buf = '';
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (chunk) => {
        buf += chunk;
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolveLine(buf.slice(0, nl));
      });
      proc.on('exit', (code, signal) => reject(new Error(
        `tests/servers/start.mjs exited (${code ?? signal}) before printing its JSON line${logFile ? `; log:\n${tail(logFile)}` : ''}`,
      )));
      proc.on('error', reject);
    }), timeout, 'starting tests/servers/start.mjs');
    proc.stdout.resume(); // nothing else comes on stdout, but never let the pipe fill
    return { info: JSON.parse(line), proc, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// (b) tauri-driver
// ---------------------------------------------------------------------------

/**
 * Starts tauri-driver (which starts WebKitWebDriver) with `env` as the
 * environment of the driver AND of every app it launches, and waits for
 * GET /status to answer 200 with ready:true.
 *
 * Ports: 4444 (WebDriver) and 4445 (native) when free, else two free ports
 * (tauri-driver on a busy port prints "can not listen" and exits 0, leaving
 * WebKitWebDriver behind, and /status would then reach someone else's driver).
 */
export async function startDriver({
  env, runId, port, nativePort, logFile, cwd, timeout = 30_000, binary = tauriDriverBinary(),
} = {}) {
  if (!existsSync(binary)) {
    throw new Error(`no tauri-driver at ${binary}: cargo install tauri-driver --locked --version '^2' (scripts/e2e.sh does)`);
  }
  if (port === undefined || nativePort === undefined) {
    if (await portIsFree(DEFAULT_PORT) && await portIsFree(DEFAULT_NATIVE_PORT)) {
      port = DEFAULT_PORT;
      nativePort = DEFAULT_NATIVE_PORT;
    } else {
      port = await freePort();
      do nativePort = await freePort(); while (nativePort === port);
    }
  }
  const outFd = logFile ? openSync(logFile, 'a') : 'inherit';
  const proc = spawn(binary, ['--port', String(port), '--native-port', String(nativePort)], {
    env: { ...env, MCPAUTH_E2E_RUN: runId },
    // The app inherits it: project-relative defaults (an exported .mcp.json) land in the run's dir.
    cwd,
    // Own process group, so that a test's Ctrl-C does not hit it before cleanup runs.
    detached: true,
    // Never a pipe we do not drain: tauri-driver and the app would block on a full pipe,
    // and a pipe held by an orphan keeps `cmd | tail` waiting forever.
    stdio: ['ignore', outFd, outFd],
  });
  if (typeof outFd === 'number') closeSync(outFd);

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone */ }
      if (!(await waitExit(proc, 5000))) {
        try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
        await waitExit(proc, 3000);
      }
    }
  };

  const exited = () => proc.exitCode !== null || proc.signalCode !== null;
  try {
    // WebKitWebDriver first: a /status that tauri-driver cannot forward yet
    // logs a scary "Connection refused" backtrace in the driver log.
    await waitFor(() => new Promise((done, fail) => {
      if (exited()) fail(new Error(`tauri-driver exited (${proc.exitCode ?? proc.signalCode})`));
      const sock = connect(nativePort, '127.0.0.1');
      sock.once('connect', () => { sock.destroy(); done(true); });
      sock.once('error', () => done(false));
    }), { timeout, interval: 100, message: `WebKitWebDriver on 127.0.0.1:${nativePort}` });
    await waitFor(async () => {
      if (exited()) {
        throw new Error(`tauri-driver exited (${proc.exitCode ?? proc.signalCode})`);
      }
      const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(2000) });
      if (!res.ok) return false;
      const body = await res.json();
      return body?.value?.ready === true;
    }, { timeout, interval: 100, message: `tauri-driver at ${url}/status` });
  } catch (err) {
    await stop();
    await sweepRun(runId);
    err.message += logFile ? `\ntauri-driver log:\n${tail(logFile)}` : '';
    throw err;
  }
  return { proc, port, nativePort, url, stop };
}

// ---------------------------------------------------------------------------
// (c) the WebDriver session (this is what starts the app)
// ---------------------------------------------------------------------------

/**
 * Opens a WebDriver session; WebKitWebDriver starts the app binary with `args`
 * and the driver's environment. Resolves once the page has loaded.
 */
export async function openSession({ port, application = appBinary(), args = [], logLevel = 'error' } = {}) {
  if (!existsSync(application)) {
    throw new Error(`no app binary at ${application}: cargo build -p mcpauth-app (or set MCPAUTH_APP)`);
  }
  const browser = await remote({
    hostname: '127.0.0.1',
    port,
    logLevel,
    // A hung command (see README: screenshots) must fail, not be retried 3 times.
    connectionRetryTimeout: 60_000,
    connectionRetryCount: 0,
    waitforTimeout: 10_000,
    capabilities: {
      // WebKitWebDriver has no WebDriver BiDi; do not even ask.
      'wdio:enforceWebDriverClassic': true,
      'tauri:options': { application, args },
    },
  });
  // The window exists when the session does, but the page may still be loading.
  await browser.waitUntil(
    async () => (await browser.execute(() => document.readyState)) === 'complete',
    { timeout: 20_000, interval: 100, timeoutMsg: 'the app page did not finish loading' },
  );
  return browser;
}

// ---------------------------------------------------------------------------
// (d) screenshots
// ---------------------------------------------------------------------------

/** WebDriver sessions whose screenshot hung once (see saveScreenshot). */
const screenshotHangs = new WeakSet();

/**
 * Saves a PNG of the app window to tests/e2e/screenshots/<name>.png (a path
 * ending in .png is used as is). Uses WebDriver's screenshot; if that fails
 * or hangs, falls back to grabbing the whole X screen with ImageMagick's
 * `import`. WebKitWebDriver's screenshot often hangs when the web view does
 * not composite (the app turns compositing off, startup.rs; with
 * WEBKIT_DISABLE_DMABUF_RENDERER=1 it hangs every time). Each hang costs
 * `timeout`, so after one hang a session goes straight to the X screen.
 * Never throws: returns the path, or null when no screenshot could be taken.
 */
export async function saveScreenshot(browser, name, { timeout = 15_000 } = {}) {
  const file = name.endsWith('.png') ? resolve(name) : join(SCREENSHOT_DIR, `${slug(name)}.png`);
  mkdirSync(dirname(file), { recursive: true });
  if (browser && !screenshotHangs.has(browser)) {
    try {
      // Let pending DOM changes reach the screen first (two animation frames).
      await withTimeout(
        browser.executeAsync((done) => requestAnimationFrame(() => requestAnimationFrame(() => done()))),
        3000, 'waiting for a frame',
      ).catch(() => {});
      let data;
      for (let attempt = 0; attempt < 4; attempt++) {
        data = await withTimeout(browser.takeScreenshot(), timeout, 'WebDriver screenshot');
        // A window-sized PNG this small is one flat colour: the page was not
        // painted yet (seen right after a session starts). Try again shortly.
        if (data.length > 12_000) break;
        await sleep(400);
      }
      writeFileSync(file, Buffer.from(data, 'base64'));
      return file;
    } catch (err) {
      if (/took longer/.test(err.message)) screenshotHangs.add(browser);
      console.error(`# screenshot ${basename(file)}: ${err.message}; trying the X screen instead`);
    }
  }
  if (process.env.DISPLAY) {
    const ok = await new Promise((done) => {
      execFile('import', ['-window', 'root', file], { timeout }, (err) => done(!err));
    });
    if (ok) return file;
  }
  console.error(`# screenshot ${basename(file)}: no screenshot taken`);
  return null;
}

// ---------------------------------------------------------------------------
// Queries by what the user sees
// ---------------------------------------------------------------------------

/** An XPath string literal for any text (handles both quote kinds). */
export function xpathLiteral(text) {
  if (!text.includes('"')) return `"${text}"`;
  if (!text.includes("'")) return `'${text}'`;
  return `concat(${text.split('"').map((p) => `"${p}"`).join(', \'"\', ')})`;
}

/**
 * The innermost element whose text (whitespace collapsed, as in the DOM, not
 * CSS-transformed) equals `text`, or contains it with {exact: false}.
 * `tag` narrows it (e.g. 'h1', 'button'). Returns a WebdriverIO element
 * (chainable: await byText(b, 'Add').click()).
 */
export function byText(browser, text, { tag = '*', exact = true } = {}) {
  const lit = xpathLiteral(text);
  const match = exact ? `normalize-space(.)=${lit}` : `contains(normalize-space(.), ${lit})`;
  // not(descendant with the same match) picks the innermost element, not <html>/<body>.
  return browser.$(`//body//${tag}[${match}][not(.//*[${match}])]`);
}

/** Element by data-testid. */
export function byTestId(browser, id) {
  return browser.$(`[data-testid=${JSON.stringify(id)}]`);
}

/** Opens a screen by its route, as a link in the app does. */
export const go = (browser, hash) => browser.execute((h) => { location.hash = h; }, hash);

/** Types into the field `testId` once it is shown. */
export async function type(browser, testId, text) {
  const el = byTestId(browser, testId);
  await el.waitForDisplayed({ timeout: 10_000 });
  await el.setValue(text);
}

/** Clicks `testId` once it is shown and enabled. */
export async function click(browser, testId, timeout = 10_000) {
  const el = byTestId(browser, testId);
  await el.waitForDisplayed({ timeout });
  await el.waitForEnabled({ timeout });
  await el.click();
}

/** The text `testId` draws, its white space collapsed. */
export const drawn = async (browser, testId) => (await byTestId(browser, testId).getText()).replace(/\s+/g, ' ');

/**
 * First visible element with ARIA `role` (explicit or implicit: heading,
 * button, link, textbox, checkbox, dialog, alert, status, list, listitem,
 * region, main, navigation, banner, img) and, when given, accessible name
 * `name` (aria-label, aria-labelledby, <label>, alt, title or text; a
 * RegExp or an exact string, whitespace collapsed). Resolves to a
 * WebdriverIO element, or null.
 */
export async function byRole(browser, role, { name, level } = {}) {
  const nameSpec = name instanceof RegExp ? { re: name.source, flags: name.flags } : name === undefined ? null : { eq: String(name) };
  const ref = await browser.execute((roleArg, nameArg, levelArg) => {
    const implicit = {
      heading: 'h1,h2,h3,h4,h5,h6',
      button: 'button,input[type=button],input[type=submit],input[type=reset],summary',
      link: 'a[href]',
      textbox: 'input:not([type]),input[type=text],input[type=url],input[type=email],input[type=search],input[type=password],textarea',
      checkbox: 'input[type=checkbox]',
      radio: 'input[type=radio]',
      combobox: 'select',
      dialog: 'dialog',
      list: 'ul,ol',
      listitem: 'li',
      main: 'main',
      navigation: 'nav',
      banner: 'body > header',
      region: 'section[aria-label],section[aria-labelledby]',
      img: 'img[alt]',
      form: 'form',
      table: 'table',
      row: 'tr',
    };
    const sel = [`[role~="${roleArg}"]`, implicit[roleArg]].filter(Boolean).join(',');
    const clean = (s) => (s || '').replace(/\s+/g, ' ').trim();
    const accName = (el) => {
      if (el.getAttribute('aria-labelledby')) {
        return clean(el.getAttribute('aria-labelledby').split(/\s+/)
          .map((id) => document.getElementById(id)?.textContent || '').join(' '));
      }
      if (el.getAttribute('aria-label')) return clean(el.getAttribute('aria-label'));
      if (el.labels && el.labels.length) return clean([...el.labels].map((l) => l.textContent).join(' '));
      if (el.tagName === 'IMG') return clean(el.getAttribute('alt'));
      if (el.tagName === 'INPUT' && /^(button|submit|reset)$/.test(el.type)) return clean(el.value);
      return clean(el.textContent) || clean(el.getAttribute('title')) || clean(el.getAttribute('placeholder'));
    };
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      const st = getComputedStyle(el);
      return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none';
    };
    for (const el of document.querySelectorAll(sel)) {
      const explicit = el.getAttribute('role');
      if (explicit && !explicit.split(/\s+/).includes(roleArg)) continue; // role overridden
      if (!visible(el)) continue;
      if (levelArg != null) {
        const lv = el.getAttribute('aria-level') || (/^H[1-6]$/.test(el.tagName) ? el.tagName[1] : null);
        if (String(lv) !== String(levelArg)) continue;
      }
      if (nameArg) {
        const n = accName(el);
        if (nameArg.re !== undefined ? !new RegExp(nameArg.re, nameArg.flags).test(n) : n !== clean(nameArg.eq)) continue;
      }
      return el;
    }
    return null;
  }, role, nameSpec, level ?? null);
  return ref ? browser.$(ref) : null;
}

/** Waits until byRole() finds the element; resolves to it. */
export async function waitForRole(browser, role, opts = {}) {
  const { timeout = 10_000, ...query } = opts;
  return waitFor(() => byRole(browser, role, query), {
    timeout,
    message: `role=${role}${query.name ? ` name=${query.name}` : ''}`,
  });
}

/**
 * Calls a Tauri command of the app from inside the webview, exactly as the
 * front end does (window.__TAURI_INTERNALS__.invoke); resolves to its result,
 * rejects with its error. For setting up state or reading what the backend
 * sees; drive the UI for what the test is about.
 */
export async function invoke(browser, command, args = {}) {
  const r = await browser.executeAsync((cmd, a, done) => {
    window.__TAURI_INTERNALS__.invoke(cmd, a).then(
      (value) => done({ ok: true, value }),
      (error) => done({ ok: false, error: typeof error === 'string' ? error : JSON.stringify(error) }),
    );
  }, command, args);
  if (!r.ok) throw new Error(`invoke ${command}: ${r.error}`);
  return r.value;
}

// ---------------------------------------------------------------------------
// Common set-ups on a started app (`app` is what useApp() returns)
// ---------------------------------------------------------------------------

/** Add server, driven through the UI up to the discovery preview of the test MCP server. */
export async function openAddPreview(app) {
  const b = app.browser;
  // Through another screen: a fresh Add server screen, not the last preview.
  await b.execute(() => { location.hash = '#/accounts'; });
  await waitFor(() => b.execute(() => !document.querySelector('[data-testid="add-url"]')), {
    message: 'the Add server screen to close',
  });
  await b.execute(() => { location.hash = '#/add'; });
  const url = byTestId(b, 'add-url');
  await url.waitForDisplayed({ timeout: 10_000 });
  await url.setValue(app.servers.mcp.current);
  await byTestId(b, 'add-discover').click();
  await byTestId(b, 'add-preview').waitForDisplayed({ timeout: 20_000 });
}

/** Waits for the first account to exist (e.g. after a sign-in) and resolves to it. */
export async function waitForFirstAccount(app, { timeout = 60_000 } = {}) {
  let account;
  await waitFor(async () => ([account] = await invoke(app.browser, 'list_accounts')).length > 0 && account, {
    timeout,
    message: 'the account',
  });
  return account;
}

/** A machine account (client credentials, ES256 private key) added over IPC, the list reloaded; resolves to it. */
export async function addMachineAccount(app, name) {
  const account = await invoke(app.browser, 'add_machine_account', {
    options: {
      mcp_url: app.servers.mcp.current,
      name,
      client_id: 'mcpauth-es256',
      client_secret: null,
      private_key: app.servers.clients.es256.private_key_pem,
      signing_alg: null,
      scopes: ['mcp:read'],
    },
  });
  await app.browser.refresh(); // the list was loaded before the account existed
  return account;
}

/** The account's token bundle, read from the keyring as the vault stores it. */
export function keyringBundle(app, id) {
  const json = execFileSync('secret-tool', ['lookup', 'service', app.keyringService, 'username', `${id}/tokens`], {
    encoding: 'utf8',
  });
  return JSON.parse(json);
}

/**
 * Revokes the refresh token the keyring holds for `account` at the test
 * authorization server (RFC 7009); throws unless the server answers 200.
 * Resolves to the bundle whose refresh token was revoked.
 */
export async function revokeRefreshToken(app, account) {
  const bundle = keyringBundle(app, account.id);
  const meta = await (await fetch(`${app.servers.issuer}/.well-known/oauth-authorization-server`)).json();
  const revoked = await fetch(meta.revocation_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: bundle.refresh_token, token_type_hint: 'refresh_token', client_id: account.client_id }),
  });
  if (revoked.status !== 200) throw new Error(`revocation answered ${revoked.status}`);
  return bundle;
}

/** The page's visible text (document.body.innerText; CSS text-transform applied, as the user sees it). */
export function pageText(browser) {
  return browser.execute(() => document.body.innerText);
}

/** Waits until the page's text contains `text` (string or RegExp); resolves to the text. */
export async function waitForText(browser, text, { timeout = 10_000 } = {}) {
  let last = '';
  try {
    return await waitFor(async () => {
      last = await browser.execute(() => document.body.textContent.replace(/\s+/g, ' '));
      return (text instanceof RegExp ? text.test(last) : last.includes(text)) && last;
    }, { timeout, message: `text ${text}` });
  } catch (err) {
    err.message += `\npage text: ${last.slice(0, 500)}`;
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Deep links: a second instance of the app
// ---------------------------------------------------------------------------

/**
 * Runs the app binary a second time with `url` (e.g. mcpauth://oauth/callback?…)
 * as its argument, with exactly the environment of the running instance. With
 * tauri-plugin-single-instance the new process hands the URL to the running
 * one over D-Bus and exits at once. Resolves to {code, signal, stdout, stderr,
 * ms, timedOut}; a process still running after `timeout` ms (no single-instance:
 * it became a second app) is killed and reported with timedOut: true.
 */
export async function launchSecondInstance(env, url, { binary = appBinary(), args = [], timeout = 20_000 } = {}) {
  const started = Date.now();
  const child = spawn(binary, [...args, url], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  let result = await waitExit(child, timeout);
  let timedOut = false;
  if (!result) {
    timedOut = true;
    child.kill('SIGTERM');
    result = (await waitExit(child, 3000)) || (child.kill('SIGKILL'), await waitExit(child, 3000)) || {};
  }
  return { ...result, stdout, stderr, ms: Date.now() - started, timedOut };
}

/** True while some app instance owns tauri-plugin-single-instance's D-Bus name on the session bus. */
export function singleInstanceNameOwned(env = process.env) {
  try {
    const names = execFileSync('gdbus', ['call', '--session', '--dest', 'org.freedesktop.DBus',
      '--object-path', '/org/freedesktop/DBus', '--method', 'org.freedesktop.DBus.ListNames'], { env, encoding: 'utf8', timeout: 5000 });
    return names.includes('.SingleInstance');
  } catch {
    return false;
  }
}

/** Opens `url` the way the desktop would (`gio open`, needs the handler registered by the app). */
export async function openWithGio(env, url, { timeout = 20_000 } = {}) {
  return new Promise((done) => {
    execFile('gio', ['open', url], { env, timeout }, (err, stdout, stderr) => {
      done({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------
// Everything for one test file
// ---------------------------------------------------------------------------

// SIGINT/SIGTERM: exit, so that the 'exit' handlers of every startApp() end
// their run's processes (node's default would skip them).
let signalHandlersInstalled = false;
function installSignalHandlers() {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}

/**
 * Starts everything a test file needs and returns a context. Call
 * `ctx.cleanup()` when done (useApp() does it for you).
 *
 * Options:
 *   name     a name for logs and temp dirs (default: the test file's name)
 *   servers  true, or {args: [...start.mjs options], env}: start tests/servers first
 *   env      extra environment for the driver and the app
 *   args     arguments for the app's first launch
 *   launch   false: start the driver but open no session yet (call ctx.launch())
 */
export async function startApp(opts = {}) {
  const name = slug(opts.name || 'e2e');
  const binary = opts.application || appBinary();
  if (!existsSync(binary)) {
    throw new Error(`no app binary at ${binary}: cargo build -p mcpauth-app (or set MCPAUTH_APP / CARGO_TARGET_DIR)`);
  }
  const runId = `${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const logDir = join(LOG_DIR, name);
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const work = mkdtempSync(join(process.env.MCPAUTH_E2E_TMP || tmpdir(), `mcpauth-e2e-${name}-`));
  const home = join(work, 'home');
  const mcpauthHome = join(work, 'mcpauth');
  for (const d of [home, join(home, '.config'), join(home, '.local', 'share'), join(home, '.cache'), mcpauthHome]) {
    mkdirSync(d, { recursive: true });
  }

  const approve = join(REPO, 'tests', 'browser', 'approve.mjs');
  const browserCmd = `${process.execPath} ${approve}`;
  if (/[\s:]/.test(process.execPath + approve)) {
    throw new Error(`BROWSER is split on ':' and whitespace; ${browserCmd} contains one`);
  }

  const ctx = {
    name,
    runId,
    work,
    home,
    mcpauthHome,
    logDir,
    keyringService: `mcpauth-e2e-${runId}`,
    redirectFile: join(work, 'redirect.txt'),
    appBinary: binary,
    servers: null, // the JSON line of tests/servers/start.mjs
    browser: null, // the WebdriverIO browser of the current session
    driver: null,
    env: null,
    sessionStartMs: null,
    _serversHandle: null,
  };

  const env = { ...process.env };
  // WEBKIT_DISABLE_DMABUF_RENDERER=1 makes WebKitWebDriver's screenshots hang forever.
  delete env.WEBKIT_DISABLE_DMABUF_RENDERER;
  // node --test marks its children with NODE_TEST_CONTEXT; approve.mjs (a node
  // process the app starts) must not inherit it.
  delete env.NODE_TEST_CONTEXT;
  Object.assign(env, {
    // The app's data, the keyring items, the webview's storage and anything the
    // app registers (deep-link .desktop files, mimeapps.list) stay in `work`.
    MCPAUTH_HOME: mcpauthHome,
    MCPAUTH_KEYRING_SERVICE: ctx.keyringService,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CACHE_HOME: join(home, '.cache'),
    BROWSER: browserCmd,
    MCPAUTH_TEST_REDIRECT_FILE: ctx.redirectFile,
    MCPAUTH_TEST_BROWSER_LOG: join(logDir, 'browser.log'),
    GDK_BACKEND: 'x11',
    NO_AT_BRIDGE: '1',
    RUST_BACKTRACE: '1',
    ...(opts.env || {}),
    MCPAUTH_E2E_RUN: runId,
  });
  ctx.env = env;

  ctx.cleanup = async () => {
    const errors = [];
    if (ctx.browser) {
      try {
        await withTimeout(ctx.browser.deleteSession(), 15_000, 'deleteSession');
      } catch (err) {
        errors.push(err);
      }
      ctx.browser = null;
    }
    // The app closes with its window; give it a moment before the driver goes.
    await waitFor(() => appPids(runId, ctx.appBinary).length === 0, { timeout: 5000 }).catch(() => {});
    if (ctx.driver) await ctx.driver.stop().catch((err) => errors.push(err));
    const names = Object.fromEntries(runPids(runId).map((pid) => {
      try { return [pid, readFileSync(`/proc/${pid}/comm`, 'utf8').trim()]; } catch { return [pid, '?']; }
    }));
    const left = await sweepRun(runId);
    if (left.length) {
      console.error(`# ${name}: ended leftover process(es) of this run: ${left.map((p) => `${p} (${names[p] || '?'})`).join(', ')}`);
    }
    if (ctx._serversHandle) await ctx._serversHandle.stop().catch((err) => errors.push(err));
    if (!process.env.MCPAUTH_E2E_KEEP) rmSync(work, { recursive: true, force: true });
    if (errors.length) console.error(`# ${name}: cleanup: ${errors.map((e) => e.message).join('; ')}`);
  };

  // Even if the test process dies without running `after` hooks.
  const onExit = () => {
    for (const pid of runPids(runId)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  };
  process.once('exit', onExit);
  installSignalHandlers();

  /** Opens a session, i.e. launches the app (with `args`). */
  ctx.launch = async ({ args = opts.args || [] } = {}) => {
    if (ctx.browser) throw new Error('the app is running; use ctx.restart()');
    const leftover = appPids(runId, ctx.appBinary);
    if (leftover.length) throw new Error(`an app of this run still runs (${leftover.join(' ')}); single-instance would swallow the new one`);
    const t0 = Date.now();
    ctx.browser = await openSession({ port: ctx.driver.port, application: ctx.appBinary, args });
    ctx.sessionStartMs = Date.now() - t0;
    return ctx.browser;
  };

  /** Ends the session (the app quits), waits until the app process is gone. */
  ctx.quit = async ({ timeout = 10_000 } = {}) => {
    if (ctx.browser) {
      await withTimeout(ctx.browser.deleteSession(), 15_000, 'deleteSession').catch(() => {});
      ctx.browser = null;
    }
    try {
      await waitFor(() => appPids(runId, ctx.appBinary).length === 0, { timeout, message: 'the app to exit' });
    } catch {
      // e.g. a close-to-tray app: end it
      for (const pid of appPids(runId, ctx.appBinary)) {
        try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      }
      await waitFor(() => appPids(runId, ctx.appBinary).length === 0, { timeout: 5000, message: 'the app to exit after SIGTERM' });
    }
    // Gone from the process table is not yet gone from the bus: a launch before
    // the single-instance name is released would hand itself to the dying app.
    await waitFor(() => !singleInstanceNameOwned(ctx.env), { timeout: 5000, message: 'the single-instance D-Bus name released' })
      .catch(() => {});
  };

  /** Quits and launches the app again (same MCPAUTH_HOME, keyring service, HOME). */
  ctx.restart = async ({ args } = {}) => {
    await ctx.quit();
    return ctx.launch({ args });
  };

  /** PIDs of the running app instance(s) of this run. */
  ctx.appPids = () => appPids(runId, ctx.appBinary);

  /** Screenshot to tests/e2e/screenshots/<file>--<name>.png. */
  ctx.screenshot = (shotName) => saveScreenshot(ctx.browser, join(SCREENSHOT_DIR, `${name}--${slug(shotName)}.png`));

  /** Runs the app binary again with `url`, same environment (see launchSecondInstance). */
  ctx.launchSecondInstance = (url, o = {}) => launchSecondInstance(ctx.env, url, { binary: ctx.appBinary, ...o });

  /** `gio open url` with the app's environment. */
  ctx.openWithGio = (url, o) => openWithGio(ctx.env, url, o);

  /**
   * Waits for tests/browser/approve.mjs (run by the app through BROWSER) to
   * write the redirect URL it ended on; returns it and removes the file.
   */
  ctx.waitForRedirect = async ({ timeout = 45_000 } = {}) => {
    const url = await waitFor(() => existsSync(ctx.redirectFile) && readFileSync(ctx.redirectFile, 'utf8').trim(), {
      timeout,
      message: `approve.mjs to write ${ctx.redirectFile} (its log: ${join(logDir, 'browser.log')})`,
    });
    rmSync(ctx.redirectFile, { force: true });
    return url;
  };

  try {
    if (opts.servers) {
      const s = typeof opts.servers === 'object' ? opts.servers : {};
      ctx._serversHandle = await startServers({ ...s, logFile: join(logDir, 'servers.log') });
      ctx.servers = ctx._serversHandle.info;
    }
    const t0 = Date.now();
    ctx.driver = await startDriver({ env, runId, cwd: work, logFile: join(logDir, 'driver.log') });
    ctx.driverStartMs = Date.now() - t0;
    if (opts.launch !== false) await ctx.launch();
  } catch (err) {
    err.message += `\n(logs in ${logDir}; driver.log has tauri-driver, WebKitWebDriver and the app's stderr)`;
    await ctx.cleanup();
    throw err;
  }
  return ctx;
}

/**
 * Registers node:test hooks in the current scope (top level or a describe):
 * before → startApp(opts), afterEach → a screenshot named after the test
 * (tests/e2e/screenshots/<file>--<test>.png, on failure too), after → cleanup.
 * Returns a proxy whose properties (browser, env, servers, restart(), …) are
 * those of the context once `before` has run.
 */
export function useApp(opts = {}) {
  const file = process.argv[1] ? basename(process.argv[1]).replace(/\.test\.m?js$|\.m?js$/, '') : 'e2e';
  const holder = { ctx: null };
  before(async () => {
    holder.ctx = await startApp({ name: file, ...opts });
  }, { timeout: opts.startTimeout ?? 180_000 });
  if (opts.screenshots !== false) {
    afterEach(async (t) => {
      if (holder.ctx?.browser) await holder.ctx.screenshot(t?.name || 'test');
    });
  }
  after(async () => {
    if (holder.ctx) await holder.ctx.cleanup();
  }, { timeout: 60_000 });
  return new Proxy({}, {
    get(_, prop) {
      if (prop === 'then') return undefined; // not a thenable
      if (!holder.ctx) throw new Error(`app.${String(prop)} used before the before() hook ran (or it failed)`);
      const v = holder.ctx[prop];
      return v;
    },
  });
}

// Lets `node harness.mjs --check` verify the prerequisites quickly.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv.includes('--check')) {
  const checks = [
    ['app binary', appBinary()],
    ['tauri-driver', tauriDriverBinary()],
    ['WebKitWebDriver', '/usr/bin/WebKitWebDriver'],
    ['tests/servers deps', join(REPO, 'tests', 'servers', 'node_modules')],
    ['tests/browser deps', join(REPO, 'tests', 'browser', 'node_modules')],
  ];
  let ok = true;
  for (const [what, p] of checks) {
    const there = existsSync(p);
    ok &&= there;
    console.log(`${there ? 'ok     ' : 'MISSING'} ${what}: ${p}${there && statSync(p).isFile() ? ` (${new Date(statSync(p).mtimeMs).toISOString()})` : ''}`);
  }
  console.log(`DISPLAY=${process.env.DISPLAY || '(unset)'} DBUS_SESSION_BUS_ADDRESS=${process.env.DBUS_SESSION_BUS_ADDRESS ? 'set' : '(unset)'}`);
  process.exit(ok ? 0 : 1);
}

// ---------------------------------------------------------------------------
// The window closed and built again (the app stays in the tray)
// ---------------------------------------------------------------------------

/** The command names (/proc/<pid>/comm) of the WebKit processes `pid` started. */
export function webkitChildren(pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const [state, ppid] = stat.slice(close + 2).split(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      if (Number(ppid) === pid && state !== 'Z' && comm.startsWith('WebKit')) out.push(comm);
    } catch {
      // gone meanwhile
    }
  }
  return out.sort();
}

/**
 * Closes the app's window as a window manager's close button does
 * (WM_DELETE_WINDOW, tests/e2e/wm-close.py), then waits until the app runs on
 * with no window and no WebKit process. Resolves to the app's pid.
 */
export async function closeWindow(app) {
  const [pid] = app.appPids();
  if (!pid) throw new Error('closeWindow: the app is not running');
  execFileSync('python3', [join(E2E_DIR, 'wm-close.py'), String(pid)], { env: app.env });
  await waitFor(() => webkitChildren(pid).length === 0, {
    timeout: 20_000,
    message: "the closed window's WebKit processes (web and network) to end",
  });
  if (!app.appPids().includes(pid)) throw new Error('the app exited when its window closed');
  return pid;
}

/** The X windows of process `pid` titled "MCP Auth", with their map state (IsViewable, IsUnMapped, …). */
export function appWindows(env, pid) {
  const tree = execFileSync('xwininfo', ['-root', '-tree'], { env, encoding: 'utf8' });
  const out = [];
  for (const [, id] of tree.matchAll(/^\s*(0x[0-9a-f]+) "MCP Auth":/gm)) {
    // A window destroyed since the tree was read (a closing one) is not there.
    let prop;
    let info;
    try {
      prop = execFileSync('xprop', ['-id', id, '_NET_WM_PID'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      if (Number(prop.match(/= (\d+)/)?.[1]) !== pid) continue;
      info = execFileSync('xwininfo', ['-id', id], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      if (/BadWindow|No such window/i.test(String(e.stderr))) continue;
      throw e;
    }
    out.push({ id, mapState: info.match(/Map State: (\w+)/)?.[1] });
  }
  return out;
}
