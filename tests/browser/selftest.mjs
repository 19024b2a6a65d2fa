#!/usr/bin/env node
// Self-test of approve.mjs against the real test servers (tests/servers) and
// Debian's Chromium: loopback redirect (127.0.0.1 and localhost), custom
// scheme, deny, a detached start nobody waits for, and the hard timeout.
//
//   node tests/browser/selftest.mjs          (SELFTEST_VERBOSE=1 for approve's logs)

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SERVERS = path.resolve(HERE, '../servers');
const APPROVE = path.join(HERE, 'approve.mjs');
const VERBOSE = process.env.SELFTEST_VERBOSE === '1';
const T0 = Date.now();

let passed = 0;
let failed = 0;
const timings = [];
function check(name, ok, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
}

function npmCiIfMissing(dir) {
  if (fs.existsSync(path.join(dir, 'node_modules'))) return;
  console.log(`npm ci --prefix ${dir}`);
  const r = spawnSync('npm', ['ci', '--prefix', dir, '--no-audit', '--no-fund'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`npm ci --prefix ${dir} failed`);
}

// ---------------------------------------------------------------- test servers
function startServers() {
  return new Promise((resolve, reject) => {
    const t = Date.now();
    const child = spawn(process.execPath, [path.join(SERVERS, 'start.mjs')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let errText = '';
    child.stderr.on('data', (d) => { errText += d; });
    const rl = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`test servers did not start in 30 s:\n${errText}`)), 30000);
    rl.once('line', (line) => {
      clearTimeout(timer);
      const info = JSON.parse(line);
      resolve({ child, info, ms: Date.now() - t, stderr: () => errText });
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`test servers exited (${code}):\n${errText}`)); });
  });
}

// ---------------------------------------------------------------- loopback listener
function startListener() {
  return new Promise((resolve) => {
    const hits = [];
    const waiters = [];
    const server = http.createServer((req, res) => {
      const u = new URL(req.url, `http://${req.headers.host}`); // as the browser addressed it
      if (u.pathname === '/hang') return; // never answers (timeout test)
      if (u.pathname !== '/callback') { res.writeHead(404).end('not found'); return; }
      hits.push(u);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>MCP Auth</title><h1>Signed in</h1><p>You can close this window and return to the terminal.</p>');
      for (const w of waiters.splice(0)) w(u);
    });
    server.listen(0, '127.0.0.1', () => {
      resolve({
        server,
        port: server.address().port,
        hits,
        next: (ms) => new Promise((res) => {
          const t = setTimeout(() => res(null), ms);
          waiters.push((u) => { clearTimeout(t); res(u); });
        }),
      });
    });
  });
}

// ---------------------------------------------------------------- authorization URL
function authUrl(info, redirectUri, { tenant = false } = {}) {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const state = crypto.randomBytes(16).toString('base64url');
  const u = new URL(`${tenant ? info.tenantIssuer : info.issuer}/auth`);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: 'mcpauth-public',
    redirect_uri: redirectUri,
    scope: 'mcp:read',
    resource: tenant ? info.mcp.fallback : info.mcp.current,
    state,
    code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })) u.searchParams.set(k, v);
  return { url: u.href, verifier, state, redirectUri };
}

async function exchange(info, req, code) {
  const r = await fetch(`${info.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: req.redirectUri,
      client_id: 'mcpauth-public', code_verifier: req.verifier, resource: info.mcp.current,
    }),
  });
  const body = await r.json();
  if (!r.ok) return { ok: false, detail: JSON.stringify(body) };
  const payload = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url').toString());
  return { ok: payload.sub === 'alice' || payload.sub === process.env.MCPAUTH_TEST_USER, payload, refresh: !!body.refresh_token };
}

// ---------------------------------------------------------------- approve.mjs runs
function runApprove(url, extraEnv = {}, { detached = false } = {}) {
  const t = Date.now();
  const child = spawn(process.execPath, [APPROVE, url], {
    env: { ...process.env, ...extraEnv },
    stdio: detached ? 'ignore' : ['ignore', 'pipe', 'pipe'],
    detached,
  });
  if (detached) { child.unref(); return { child, t }; }
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; if (VERBOSE) process.stderr.write(d); });
  const done = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal, out, err, ms: Date.now() - t, pid: child.pid })));
  return { child, done, t };
}

const tempDirs = [];
function tempFile(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpauth-selftest-'));
  tempDirs.push(dir);
  return path.join(dir, name);
}

function chromiumStartMs(stderr) {
  const m = /chromium started in (\d+) ms/.exec(stderr);
  return m ? Number(m[1]) : null;
}

function leftovers(pid) {
  const dirs = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(`mcpauth-approve-${pid}-`));
  const procs = [];
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(`mcpauth-approve-${pid}-`)) procs.push(p);
    } catch { /* gone */ }
  }
  return { dirs, procs };
}

function checkClean(name, pid) {
  const l = leftovers(pid);
  check(`${name}: temp profile removed, no chromium left`, l.dirs.length === 0 && l.procs.length === 0,
    l.dirs.length || l.procs.length ? `dirs ${l.dirs} procs ${l.procs}` : '');
}

// ---------------------------------------------------------------- cases
async function caseLoopback(info, lst) {
  const name = 'loopback 127.0.0.1';
  const req = authUrl(info, `http://127.0.0.1:${lst.port}/callback`);
  const redirectFile = tempFile('redirect.txt');
  const shot = tempFile('callback.png');
  const hit = lst.next(60000);
  const r = await runApprove(req.url, { MCPAUTH_TEST_REDIRECT_FILE: redirectFile, MCPAUTH_TEST_SCREENSHOT: shot }).done;
  const u = await Promise.race([hit, new Promise((res) => setTimeout(() => res(null), 1000))]);
  timings.push({ name, ms: r.ms, chromium: chromiumStartMs(r.err) });
  check(`${name}: exit 0`, r.code === 0, r.code === 0 ? `${r.ms} ms` : `code ${r.code}\n${r.err}`);
  check(`${name}: nothing on stdout`, r.out === '', JSON.stringify(r.out));
  check(`${name}: listener got code+state+iss`, !!u && !!u.searchParams.get('code')
    && u.searchParams.get('state') === req.state && u.searchParams.get('iss') === info.issuer, u?.href ?? 'no hit');
  const file = fs.existsSync(redirectFile) ? fs.readFileSync(redirectFile, 'utf8').trim() : '';
  check(`${name}: redirect file = URL the listener saw`, !!u && file === u.href && u.host === `127.0.0.1:${lst.port}`, file);
  check(`${name}: screenshot written`, fs.existsSync(shot) && fs.statSync(shot).size > 1000, shot);
  if (u?.searchParams.get('code')) {
    const x = await exchange(info, req, u.searchParams.get('code'));
    check(`${name}: code exchanges for a token (PKCE)`, x.ok, x.detail ?? `sub=${x.payload.sub} aud=${x.payload.aud}`);
  }
  checkClean(name, r.pid);
  return shot;
}

async function caseCustomScheme(info) {
  const name = 'custom scheme mcpauth://';
  const req = authUrl(info, 'mcpauth://oauth/callback');
  const redirectFile = tempFile('redirect.txt');
  const r = await runApprove(req.url, { MCPAUTH_TEST_REDIRECT_FILE: redirectFile }).done;
  timings.push({ name, ms: r.ms, chromium: chromiumStartMs(r.err) });
  check(`${name}: exit 0`, r.code === 0, r.code === 0 ? `${r.ms} ms` : `code ${r.code}\n${r.err}`);
  check(`${name}: nothing on stdout`, r.out === '', JSON.stringify(r.out));
  const file = fs.existsSync(redirectFile) ? fs.readFileSync(redirectFile, 'utf8').trim() : '';
  let u = null;
  try { u = new URL(file); } catch { /* checked below */ }
  check(`${name}: redirect file has code+state+iss`, !!u && file.startsWith('mcpauth://oauth/callback?')
    && !!u.searchParams.get('code') && u.searchParams.get('state') === req.state && u.searchParams.get('iss') === info.issuer, file);
  check(`${name}: chromium did not hand it to the OS`, !/tried to hand an URL to the OS/.test(r.err));
  if (u?.searchParams.get('code')) {
    const x = await exchange(info, req, u.searchParams.get('code'));
    check(`${name}: code exchanges for a token (PKCE)`, x.ok, x.detail ?? `sub=${x.payload.sub}`);
  }
  checkClean(name, r.pid);
}

async function caseDeny(info, lst) {
  const name = 'deny';
  const req = authUrl(info, `http://127.0.0.1:${lst.port}/callback`);
  const redirectFile = tempFile('redirect.txt');
  const hit = lst.next(60000);
  const r = await runApprove(req.url, { MCPAUTH_TEST_DENY: '1', MCPAUTH_TEST_REDIRECT_FILE: redirectFile }).done;
  const u = await Promise.race([hit, new Promise((res) => setTimeout(() => res(null), 1000))]);
  timings.push({ name, ms: r.ms, chromium: chromiumStartMs(r.err) });
  check(`${name}: exit 0`, r.code === 0, r.code === 0 ? `${r.ms} ms` : `code ${r.code}\n${r.err}`);
  check(`${name}: listener got error=access_denied+state+iss, no code`, !!u && u.searchParams.get('error') === 'access_denied'
    && !u.searchParams.has('code') && u.searchParams.get('state') === req.state && u.searchParams.get('iss') === info.issuer, u?.href ?? 'no hit');
  const file = fs.existsSync(redirectFile) ? fs.readFileSync(redirectFile, 'utf8').trim() : '';
  check(`${name}: redirect file has error=access_denied`, file.includes('error=access_denied'), file);
  checkClean(name, r.pid);
}

async function caseDetached(info, lst) {
  // As the CLI does it: stdin/stdout null, nobody waits; here even stderr is
  // gone and the child is in its own session. It must finish and exit alone.
  const name = 'detached, tenant AS, localhost, user bob';
  const req = authUrl(info, `http://localhost:${lst.port}/callback`, { tenant: true });
  const logFile = tempFile('approve.log');
  const hit = lst.next(60000);
  const { child, t } = runApprove(req.url, { MCPAUTH_TEST_USER: 'bob', MCPAUTH_TEST_BROWSER_LOG: logFile }, { detached: true });
  const pid = child.pid;
  const u = await hit;
  check(`${name}: listener got code+state+iss (tenant)`, !!u && !!u.searchParams.get('code') && u.searchParams.get('state') === req.state
    && u.searchParams.get('iss') === info.tenantIssuer && u.hostname === 'localhost', u?.href ?? 'no hit');
  let alive = true;
  for (let i = 0; i < 200 && alive; i++) {
    await new Promise((res) => setTimeout(res, 100));
    try { process.kill(pid, 0); } catch { alive = false; }
  }
  const ms = Date.now() - t;
  const logText = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  timings.push({ name, ms, chromium: chromiumStartMs(logText) });
  check(`${name}: process exited by itself`, !alive, `${ms} ms`);
  check(`${name}: log file says exit 0`, /exit 0 after/.test(logText), logText.split('\n').slice(-3).join(' | '));
  if (u?.searchParams.get('code')) {
    const r = await fetch(`${info.tenantIssuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: u.searchParams.get('code'), redirect_uri: req.redirectUri, client_id: 'mcpauth-public', code_verifier: req.verifier, resource: info.mcp.fallback }),
    });
    const body = await r.json();
    const sub = body.access_token ? JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url').toString()).sub : null;
    check(`${name}: token's sub is bob`, sub === 'bob', JSON.stringify(sub ?? body));
  }
  checkClean(name, pid);
}

async function caseTimeout(lst) {
  const name = 'hard timeout';
  const r = await runApprove(`http://127.0.0.1:${lst.port}/hang`, { MCPAUTH_TEST_BROWSER_TIMEOUT_MS: '4000' }).done;
  timings.push({ name, ms: r.ms, chromium: chromiumStartMs(r.err) });
  check(`${name}: exit 3 with a clear message`, r.code === 3 && /timed out after 4000 ms/.test(r.err), `code ${r.code}, ${r.ms} ms`);
  check(`${name}: ends within timeout + 4 s`, r.ms < 8000, `${r.ms} ms`);
  checkClean(name, r.pid);
}

async function caseErrors(info) {
  // An AS error page (redirect_uri not registered: path must be /callback)
  // fails at once with the page's text, instead of waiting for the timeout.
  let name = 'AS error page';
  let r = await runApprove(authUrl(info, 'http://127.0.0.1:9/elsewhere').url).done;
  timings.push({ name, ms: r.ms, chromium: chromiumStartMs(r.err) });
  check(`${name}: exit 1 with the page's text, quickly`, r.code === 1 && /unexpected page .*redirect_uri/s.test(r.err) && r.ms < 15000,
    `code ${r.code}, ${r.ms} ms: ${(/ERROR: (.*)/.exec(r.err) || [])[1]?.slice(0, 200)}`);
  checkClean(name, r.pid);

  // Nobody listens on the loopback redirect URI: exit 1, but the URL is still written.
  name = 'redirect URI refused';
  const closed = await new Promise((res) => { const s = http.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
  const req = authUrl(info, `http://127.0.0.1:${closed}/callback`);
  const redirectFile = tempFile('redirect.txt');
  r = await runApprove(req.url, { MCPAUTH_TEST_REDIRECT_FILE: redirectFile }).done;
  timings.push({ name, ms: r.ms, chromium: chromiumStartMs(r.err) });
  const file = fs.existsSync(redirectFile) ? fs.readFileSync(redirectFile, 'utf8').trim() : '';
  check(`${name}: exit 1 "did not answer", URL still written`, r.code === 1 && /did not answer \(net::ERR_CONNECTION_REFUSED\)/.test(r.err)
    && file.includes(`state=${req.state}`), `code ${r.code}, ${r.ms} ms`);
  checkClean(name, r.pid);
}

async function caseUsage() {
  const r = await runApprove('not a url').done;
  check('bad argument: exit 2 with a message', r.code === 2 && /not a URL/.test(r.err), `code ${r.code}`);
}

// ---------------------------------------------------------------- main
async function main() {
  npmCiIfMissing(HERE);
  npmCiIfMissing(SERVERS);
  const srv = await startServers();
  console.log(`test servers up in ${srv.ms} ms (AS ${srv.info.issuer}, MCP ${srv.info.mcp.current})`);
  const lst = await startListener();
  try {
    await caseUsage();
    const shot = await caseLoopback(srv.info, lst);
    await caseCustomScheme(srv.info);
    await caseDeny(srv.info, lst);
    await caseDetached(srv.info, lst);
    await caseErrors(srv.info);
    await caseTimeout(lst);
    if (process.env.SELFTEST_KEEP_SCREENSHOT) fs.copyFileSync(shot, process.env.SELFTEST_KEEP_SCREENSHOT);
  } finally {
    lst.server.closeAllConnections?.();
    lst.server.close();
    srv.child.stdin.end(); // the servers stop on stdin EOF
    for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
    if (failed && !VERBOSE) console.log(`(servers' stderr, last lines)\n${srv.stderr().split('\n').slice(-15).join('\n')}`);
  }
  console.log('\ntimings (approve.mjs runs):');
  for (const t of timings) console.log(`  ${t.name.padEnd(42)} whole run ${String(t.ms).padStart(5)} ms, chromium start ${t.chromium ?? '?'} ms`);
  console.log(`selftest total ${Date.now() - T0} ms`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.log(`FAIL selftest crashed: ${e.stack || e}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exitCode = 1;
});
