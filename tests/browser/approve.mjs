#!/usr/bin/env node
// Plays the user in a real, headless Chromium: opens the authorization URL
// (the last argument), signs in on the test AS's login page, consents (or
// cancels), and waits until the browser reaches the client's redirect URI.
// Meant as the value of BROWSER for MCP Auth's CLI tests:
//
//   BROWSER="node /abs/path/tests/browser/approve.mjs"
//
// Nothing is ever written to stdout. See README.md for the environment
// variables and exit codes.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const T0 = Date.now();
const env = process.env;

// ---------------------------------------------------------------- settings
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';
const USER = env.MCPAUTH_TEST_USER || 'alice';
const PASSWORD = env.MCPAUTH_TEST_PASSWORD || 'anything';
const DENY = env.MCPAUTH_TEST_DENY === '1';
const REDIRECT_FILE = env.MCPAUTH_TEST_REDIRECT_FILE || '';
const SCREENSHOT = env.MCPAUTH_TEST_SCREENSHOT || '';
const LOG_FILE = env.MCPAUTH_TEST_BROWSER_LOG || '';
const VERBOSE = env.MCPAUTH_TEST_BROWSER_VERBOSE === '1';
const TIMEOUT_MS = positiveInt(env.MCPAUTH_TEST_BROWSER_TIMEOUT_MS, 30000);
const REDIRECT_URI_OVERRIDE = env.MCPAUTH_TEST_REDIRECT_URI || '';
// A user who takes a moment before the browser's page: the app's window can close meanwhile.
const DELAY_MS = positiveInt(env.MCPAUTH_TEST_BROWSER_DELAY_MS, 0);

const EXIT = { ok: 0, failed: 1, usage: 2, timeout: 3, backstop: 4, SIGINT: 130, SIGTERM: 143 };
const CHROMIUM_ARGS = [
  '--no-sandbox', // root in CI/containers: the setuid/namespace sandbox cannot start
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-proxy-server', // the test servers are on loopback; never go through a proxy from the environment
  '--disable-dev-shm-usage',
];

function positiveInt(value, dflt) {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : dflt;
}

// ---------------------------------------------------------------- logging
// stdout stays empty (the CLI sends it to /dev/null anyway; tests may not).
// stderr may be a pipe whose reader (the CLI) is gone: ignore EPIPE.
process.stderr.on('error', () => {});
process.stdout.on('error', () => {});
console.log = console.info = console.debug = (...a) => log('(console)', ...a);

// Authorization codes are cut short in logs (the CLI's stderr is often
// checked for leaked secrets); the redirect file gets the full URL.
const redact = (text) => String(text).replace(/([?&#](?:code|access_token|id_token)=)([^&#\s"]{4})[^&#\s"]*/g, '$1$2…');

function log(...parts) {
  const line = `[approve +${Date.now() - T0}ms] ${redact(parts.join(' '))}\n`;
  if (LOG_FILE) {
    try { fs.appendFileSync(LOG_FILE, line); } catch { /* ignore */ }
  } else {
    try { process.stderr.write(line); } catch { /* ignore */ }
  }
}
function shout(msg) {
  // The final failure message: always on stderr, and in the log file too.
  const line = `[approve +${Date.now() - T0}ms] ERROR: ${redact(msg)}\n`;
  try { process.stderr.write(line); } catch { /* ignore */ }
  if (LOG_FILE) try { fs.appendFileSync(LOG_FILE, line); } catch { /* ignore */ }
}

class Failure extends Error {
  constructor(message, code = EXIT.failed) { super(message); this.code = code; }
}

// ---------------------------------------------------------------- temp dirs
// <tmp>/mcpauth-approve-<pid>-XXXXXX/{profile,bin}
const TMP_PREFIX = 'mcpauth-approve-';
const BASE_TMP = os.tmpdir();
let tmpRoot = '';
let profileDir = '';

function sweepStaleTempDirs() {
  // A run killed with SIGKILL cannot clean up; remove leftovers of dead runs.
  let entries = [];
  try { entries = fs.readdirSync(BASE_TMP); } catch { return; }
  for (const name of entries) {
    const m = /^mcpauth-approve-(\d+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    const dir = path.join(BASE_TMP, name);
    try {
      if (Date.now() - fs.statSync(dir).mtimeMs < 60_000) continue;
      killProfileProcesses(path.join(dir, 'profile'));
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      log(`removed stale temp dir ${dir}`);
    } catch { /* ignore */ }
  }
}

function pidAlive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

// Chromium processes started with our profile (found through /proc, so only
// ours are ever touched): SIGKILL them and wait (up to 2 s) until they are gone.
function killProfileProcesses(dir) {
  if (!dir || process.platform !== 'linux') return 0;
  const killed = [];
  let pids = [];
  try { pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)); } catch { return 0; }
  for (const pid of pids) {
    let cmd;
    try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (cmd.split('\0').includes(`--user-data-dir=${dir}`)) {
      try { process.kill(Number(pid), 'SIGKILL'); killed.push(pid); } catch { /* gone */ }
    }
  }
  const until = Date.now() + 2000;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (killed.some(stillRunning) && Date.now() < until) Atomics.wait(nap, 0, 0, 20);
  return killed.length;
}

function stillRunning(pid) {
  try {
    // a zombie (exited, not yet reaped) counts as gone
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch { return false; }
}

function makeTempDirs() {
  tmpRoot = fs.mkdtempSync(path.join(BASE_TMP, `${TMP_PREFIX}${process.pid}-`));
  profileDir = path.join(tmpRoot, 'profile');
  fs.mkdirSync(profileDir);
  // Stand-ins for the desktop openers: Chromium must never hand a custom-scheme
  // redirect (mcpauth://…) to the real OS handler (which might start the app).
  // Playwright's own temp dirs (playwright-artifacts-*) and Chromium's go
  // inside ours too, so that one removal takes everything.
  const tmp = path.join(tmpRoot, 'tmp');
  fs.mkdirSync(tmp);
  env.TMPDIR = tmp;
  const bin = path.join(tmpRoot, 'bin');
  fs.mkdirSync(bin);
  for (const name of ['xdg-open', 'gio', 'gnome-open', 'kde-open']) {
    fs.writeFileSync(path.join(bin, name),
      '#!/bin/sh\necho "[approve] chromium tried to hand an URL to the OS ($0 $*); ignored" >&2\nexit 0\n',
      { mode: 0o755 });
  }
  return bin;
}

function removeTempDirsSync() {
  if (!tmpRoot) return;
  killProfileProcesses(profileDir);
  try { fs.rmSync(tmpRoot, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }); } catch { /* ignore */ }
  if (fs.existsSync(tmpRoot)) log(`could not remove ${tmpRoot} (yet)`);
  else tmpRoot = '';
}

// ---------------------------------------------------------------- redirect matching
function isLoopbackHost(hostname) {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Returns a predicate telling whether a URL is the client's redirect URI. */
function redirectMatcher(startUrl) {
  const declared = REDIRECT_URI_OVERRIDE || startUrl.searchParams.get('redirect_uri') || '';
  if (declared) {
    let r;
    try { r = new URL(declared); } catch { throw new Failure(`redirect_uri is not a URL: ${declared}`, EXIT.usage); }
    const loopback = /^https?:$/.test(r.protocol) && isLoopbackHost(r.hostname);
    return {
      describe: declared,
      test(u) {
        return u.protocol === r.protocol && u.hostname === r.hostname && u.pathname === r.pathname
          // a loopback redirect URI registered without a port matches any port
          && (u.port === r.port || (loopback && r.port === ''));
      },
    };
  }
  // No redirect_uri in the URL (PAR): any navigation leaving the AS that
  // carries an authorization response, or any non-web scheme.
  return {
    describe: '(guessed: non-http scheme, or another origin with code/error and state)',
    test(u) {
      if (!/^https?:$/.test(u.protocol)) return !['about:', 'data:', 'chrome-error:', 'blob:'].includes(u.protocol);
      return u.origin !== startUrl.origin
        && (u.searchParams.has('code') || u.searchParams.has('error')) && u.searchParams.has('state');
    },
  };
}

// ---------------------------------------------------------------- main flow
let context = null;
let page = null;
let finishing = false;

async function main() {
  const rawUrl = process.argv.at(-1);
  if (process.argv.length < 3 || !rawUrl) throw new Failure('usage: approve.mjs <authorization URL>', EXIT.usage);
  let startUrl;
  try { startUrl = new URL(rawUrl); } catch { throw new Failure(`not a URL: ${rawUrl}`, EXIT.usage); }
  if (!/^https?:$/.test(startUrl.protocol)) throw new Failure(`not an http(s) URL: ${rawUrl}`, EXIT.usage);
  const matcher = redirectMatcher(startUrl);
  // A device flow's verification page (RFC 8628, verification_uri_complete):
  // no redirect at the end, a success page instead.
  const device = /\/device\/?$/.test(startUrl.pathname) && startUrl.searchParams.has('user_code');
  log(`start ${startUrl.origin}${startUrl.pathname} (user=${USER}${DENY ? ', deny' : ''}, timeout ${TIMEOUT_MS} ms); redirect URI: ${matcher.describe}`);
  if (DELAY_MS) await new Promise((r) => setTimeout(r, DELAY_MS));

  // Verbose: Playwright's debug channel shows Chromium's own stderr
  // (read by playwright-core when it is loaded, so set before the import).
  if (VERBOSE && !env.DEBUG) env.DEBUG = 'pw:browser';
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Failure(`cannot load playwright-core (${e.message}); run: npm ci --prefix ${path.dirname(new URL(import.meta.url).pathname)}`);
  }
  if (!fs.existsSync(CHROMIUM)) throw new Failure(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);

  sweepStaleTempDirs();
  const fakeBin = makeTempDirs();

  // The test pages must not reach out of this machine (the AS's pages
  // @import Google Fonts): every host name but loopback and the AS's own
  // fails to resolve at once. (Not done with Playwright routing: request
  // interception hides the redirect to a custom scheme.)
  const keep = ['localhost', '127.0.0.1', '[::1]'];
  if (!keep.includes(startUrl.hostname)) keep.push(startUrl.hostname);
  const resolverRules = `--host-resolver-rules=MAP * ~NOTFOUND, ${keep.map((h) => `EXCLUDE ${h}`).join(', ')}`;

  const tLaunch = Date.now();
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, resolverRules],
    env: { ...env, PATH: `${fakeBin}:${env.PATH || '/usr/bin:/bin'}` },
    timeout: Math.max(1000, TIMEOUT_MS - 2000),
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    viewport: { width: 1000, height: 800 },
    logger: VERBOSE ? { isEnabled: () => true, log: (name, sev, msg) => log(`[pw:${name}] ${msg}`) } : undefined,
  });
  log(`chromium started in ${Date.now() - tLaunch} ms (${CHROMIUM}, profile ${profileDir})`);

  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);

  // Capture the redirect to the client's redirect URI, whatever the scheme:
  // from the AS's 3xx Location, or from the navigation request Chromium
  // starts for it (also seen for a custom scheme, which then fails with
  // net::ERR_ABORTED).
  let resolveCaptured;
  const captured = new Promise((res) => { resolveCaptured = res; });
  let redirect = null;
  const capture = (url, how) => {
    if (redirect) return;
    let u;
    try { u = new URL(url); } catch { return; }
    if (!matcher.test(u)) return;
    redirect = { url: u.href };
    log(`redirect reached (${how}): ${u.href}`);
    resolveCaptured(redirect);
  };
  // The navigation request to a web redirect URI (loopback listener), to
  // wait for its answer.
  let resolveRedirectRequest;
  const redirectRequest = new Promise((res) => { resolveRedirectRequest = res; });
  page.on('request', (req) => {
    if (!req.isNavigationRequest() || req.frame() !== page.mainFrame()) return;
    let u;
    try { u = new URL(req.url()); } catch { return; }
    if (!matcher.test(u)) return;
    capture(req.url(), 'request');
    resolveRedirectRequest(req);
  });
  page.on('response', (resp) => {
    const req = resp.request();
    if (!req.isNavigationRequest() || req.frame() !== page.mainFrame()) return;
    const loc = resp.status() >= 300 && resp.status() < 400 ? resp.headers().location : undefined;
    if (!loc) return;
    try { capture(new URL(loc, resp.url()).href, `${resp.status()} Location`); } catch { /* not a URL */ }
  });
  page.on('requestfailed', (req) => {
    if (!req.isNavigationRequest()) return;
    const expected = redirect && req.url() === redirect.url && !/^https?:/.test(req.url());
    log(`navigation ${expected ? 'not followed (custom scheme, as expected)' : 'failed'}: ${req.url()} ${req.failure()?.errorText}`);
  });
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) log(`page: ${f.url().split('?')[0]}`); });
  page.on('pageerror', (e) => log(`page error: ${e.message}`));

  // Waits for the next main-frame navigation, or the redirect.
  const nextNavigation = () => new Promise((res) => {
    const h = (f) => { if (f === page.mainFrame()) { page.off('framenavigated', h); res('nav'); } };
    page.on('framenavigated', h);
    captured.then(() => { page.off('framenavigated', h); res('redirect'); });
  });

  const tNav = Date.now();
  const firstNav = page.goto(startUrl.href, { waitUntil: 'domcontentloaded' }).then(() => 'loaded', (e) => {
    if (redirect) return 'redirect';
    throw new Failure(`could not open ${startUrl.href}: ${e.message.split('\n')[0]}`);
  });
  await Promise.race([firstNav, captured]);

  let consented = false;
  let deviceEnd = null;
  for (let step = 0; !redirect && !deviceEnd; step++) {
    if (step >= 8) throw new Failure(`no redirect after ${step} pages; stuck at ${page.url()}`);
    await Promise.race([page.waitForLoadState('domcontentloaded'), captured]);
    if (redirect) break;
    const info = await pageInfo();
    if (redirect) break;
    if (!info) continue; // navigated while reading; look again
    const next = nextNavigation();
    if (device && info.deviceConfirm) {
      if (DENY) {
        log('device code page: aborting (MCPAUTH_TEST_DENY=1)');
        await page.locator('button[name=abort]').first().click();
      } else {
        log('device code page: continuing');
        await page.locator('button[autofocus][form="op.deviceConfirmForm"]').first().click();
      }
    } else if (device && (info.deviceInput || info.title === 'Sign-in Success')) {
      deviceEnd = info; // the end: success, or back at code entry with why
      break;
    } else if (info.login) {
      log(`login page: signing in as ${USER}`);
      const form = page.locator('form:has(input[name=login])').first();
      await form.locator('input[name=login]').fill(USER);
      await form.locator('input[name=password]').fill(PASSWORD);
      await form.locator('[type=submit]').first().click();
    } else if (info.consent) {
      if (DENY) {
        if (!info.abortHref) throw new Failure(`consent page has no abort link (${page.url()})`);
        log('consent page: cancelling (MCPAUTH_TEST_DENY=1)');
        await page.locator('a[href*="/abort"]').first().click();
      } else {
        log('consent page: continuing');
        consented = true;
        await page.locator('form:has(input[name=prompt][value=consent]) [type=submit]').first().click();
      }
    } else {
      throw new Failure(`unexpected page ${page.url()} (title "${info.title}"): ${info.text}`);
    }
    await next;
  }
  log(`authorization pages done in ${Date.now() - tNav} ms${consented ? '' : ' (no consent given)'}`);
  if (deviceEnd) {
    log(`device flow ended on "${deviceEnd.title}": ${deviceEnd.text}`);
    await takeScreenshot();
    const expected = DENY ? /declined/i.test(deviceEnd.text) : deviceEnd.title === 'Sign-in Success';
    if (!expected) throw new Failure(`the device sign-in ended on "${deviceEnd.title}": ${deviceEnd.text}`);
    return EXIT.ok;
  }

  // A web redirect URI (the CLI's loopback listener) must answer; a custom
  // scheme cannot be opened by Chromium, the captured URL is all there is.
  const final = new URL(redirect.url);
  if (/^https?:$/.test(final.protocol)) {
    const req = await redirectRequest;
    const outcome = await req.response().then(
      (r) => (r ? { status: r.status() } : { error: req.failure()?.errorText || 'no response' }),
      (e) => ({ error: e.message }));
    if (outcome.error) {
      await writeRedirectFile(redirect.url);
      throw new Failure(`the redirect URI did not answer (${outcome.error}): ${redirect.url}`);
    }
    await page.waitForLoadState('domcontentloaded', { timeout: 5000 }).catch(() => {});
    const text = (await page.locator('body').innerText({ timeout: 3000 }).catch(() => '')).replace(/\s+/g, ' ').trim();
    log(`redirect URI answered ${outcome.status}: "${text.slice(0, 160)}"`);
    if (!/close this window/i.test(text)) log('note: the page does not say "close this window"');
  } else {
    log(`custom-scheme redirect captured (Chromium cannot open ${final.protocol}//)`);
  }
  if (final.searchParams.has('error')) log(`authorization response carries error=${final.searchParams.get('error')}`);

  await writeRedirectFile(redirect.url);
  await takeScreenshot();
  return EXIT.ok;
}

async function pageInfo() {
  try {
    return await page.evaluate(() => ({
      login: !!document.querySelector('input[name=login]'),
      consent: !!document.querySelector('input[name=prompt][value=consent]'),
      deviceConfirm: !!document.querySelector('button[autofocus][form="op.deviceConfirmForm"]'),
      deviceInput: !!document.querySelector('input[name=user_code]:not([type=hidden])'),
      abortHref: document.querySelector('a[href*="/abort"]')?.getAttribute('href') || '',
      title: document.title,
      text: (document.body?.innerText || '').replace(/\s+/g, ' ').trim().slice(0, 400),
    }));
  } catch (e) {
    if (/context was destroyed|navigat/i.test(e.message)) return null;
    throw e;
  }
}

async function writeRedirectFile(url) {
  if (!REDIRECT_FILE) return;
  // Atomic: a test polling for the file never reads half of it.
  const tmp = `${REDIRECT_FILE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${url}\n`);
  fs.renameSync(tmp, REDIRECT_FILE);
  log(`redirect URL written to ${REDIRECT_FILE}`);
}

async function takeScreenshot() {
  if (!SCREENSHOT || !page) return;
  try {
    await page.screenshot({ path: SCREENSHOT, fullPage: true, timeout: 5000 });
    log(`screenshot ${SCREENSHOT} (${page.url().split('?')[0]})`);
  } catch (e) {
    log(`screenshot failed: ${e.message.split('\n')[0]}`);
  }
}

// ---------------------------------------------------------------- lifecycle
async function closeBrowser() {
  if (context) {
    const c = context;
    context = null;
    await Promise.race([c.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  }
  const killed = killProfileProcesses(profileDir);
  if (killed) log(`killed ${killed} leftover chromium process(es)`);
  removeTempDirsSync();
}

async function finish(code, message) {
  if (finishing) return;
  finishing = true;
  if (message) {
    shout(message);
    await takeScreenshot();
  }
  await closeBrowser();
  log(`exit ${code} after ${Date.now() - T0} ms`);
  process.exit(code);
}

// Hard timeout, then a backstop in case closing itself hangs.
const hardTimer = setTimeout(() => {
  finish(EXIT.timeout, `timed out after ${TIMEOUT_MS} ms (MCPAUTH_TEST_BROWSER_TIMEOUT_MS) at ${page?.url() ?? 'start-up'}`);
}, TIMEOUT_MS);
setTimeout(() => {
  shout('could not shut down cleanly; forcing exit');
  killProfileProcesses(profileDir);
  removeTempDirsSync();
  process.exit(EXIT.backstop);
}, TIMEOUT_MS + 15000).unref();

process.on('SIGINT', () => finish(EXIT.SIGINT, 'interrupted (SIGINT)'));
process.on('SIGTERM', () => finish(EXIT.SIGTERM, 'terminated (SIGTERM)'));
// The CLI that started us may go away (terminal closed): carry on, the hard
// timeout still bounds the run.
process.on('SIGHUP', () => log('SIGHUP ignored'));
process.on('exit', () => { killProfileProcesses(profileDir); removeTempDirsSync(); });
process.on('unhandledRejection', (e) => finish(EXIT.failed, `unexpected: ${e?.stack || e}`));

main().then(
  (code) => { clearTimeout(hardTimer); return finish(code); },
  (e) => { clearTimeout(hardTimer); return finish(e instanceof Failure ? e.code : EXIT.failed, e instanceof Failure ? e.message : (e?.stack || String(e))); },
);
