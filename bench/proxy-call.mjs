#!/usr/bin/env node
// The cost of one proxied MCP tool call. A stdio MCP client (the official SDK,
// as Claude Desktop or Cursor would be) calls the test server's `whoami` tool
// through three paths:
//   mcpauth    `mcpauth proxy <account>` (our Rust stdio proxy)
//   mcp-remote mcp-remote with the same token in an Authorization header
//   direct     the floor: the SDK client straight over Streamable HTTP
// With --modern (a server of MCP 2026-07-28), `mcpauth` is the 1.x SDK client
// (2025-11-25) through the proxy, which translates; `mcpauth-2026` the 2.x SDK
// client pinned to 2026-07-28 through it; `direct` the 2.x client over HTTP.
// A path that cannot reach the server at all is recorded as failed.
//
//   BENCH_TOKEN=<access token> node bench/proxy-call.mjs --mcp <url> \
//     --mcpauth <binary> --account <account> [--calls 200] [--runs 5] [--modern]
//
// Per run and path: connect (untimed), 20 warm-up calls (untimed), then
// `calls` timed sequential calls; the run's figure is the median per call.
// The paths are interleaved within a run, in an order rotated per run, so
// slow drift of the machine is shared out. For the two proxies the child's
// VmRSS and VmHWM are read from /proc after the calls. One JSON line goes to
// stdout; everything else to stderr. mcpauth gets the caller's environment
// as-is (MCPAUTH_HOME, MCPAUTH_KEYRING_SERVICE, DBUS_SESSION_BUS_ADDRESS).

import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';

const WARMUP = 20;
const { values: opt } = parseArgs({
  options: {
    mcp: { type: 'string' },
    mcpauth: { type: 'string' },
    account: { type: 'string' },
    calls: { type: 'string', default: '200' },
    runs: { type: 'string', default: '5' },
    modern: { type: 'boolean', default: false },
  },
});
const token = process.env.BENCH_TOKEN;
const calls = Number(opt.calls);
const runs = Number(opt.runs);
if (!opt.mcp || !opt.mcpauth || !opt.account || !token || !(calls >= 1) || !(runs >= 1)) {
  console.error('usage: BENCH_TOKEN=<token> node bench/proxy-call.mjs --mcp <url> --mcpauth <binary> --account <account> [--calls N] [--runs R]');
  process.exit(2);
}

// mcp-remote's own entry file (its `bin`), run by this very node: no npx or
// shell in between, so the pid we measure is mcp-remote itself.
const require = createRequire(import.meta.url);
const remotePkgPath = require.resolve('mcp-remote/package.json');
const remoteEntry = join(dirname(remotePkgPath), JSON.parse(readFileSync(remotePkgPath, 'utf8')).bin['mcp-remote']);

// `--header` values go through mcp-remote's ${VAR} substitution, so the token
// is passed in the environment and never shows in the process's command line.
// http://127.0.0.1 and http://localhost are accepted without --allow-http;
// any other plain-http host needs it. `--transport http-only`: fail rather
// than silently fall back to the old SSE transport. Nothing else is needed:
// with a working token the server never answers 401, so mcp-remote never
// starts its OAuth flow (that is checked on its stderr below).
const mcpUrl = new URL(opt.mcp);
const remoteArgs = [remoteEntry, opt.mcp, '--header', 'Authorization:Bearer ${BENCH_TOKEN}', '--transport', 'http-only'];
if (mcpUrl.protocol === 'http:' && !['127.0.0.1', 'localhost'].includes(mcpUrl.hostname)) remoteArgs.push('--allow-http');

const PATHS = opt.modern ? ['mcpauth', 'mcpauth-2026', 'mcp-remote', 'direct'] : ['mcpauth', 'mcp-remote', 'direct'];
const PROXIES = PATHS.filter((p) => p !== 'direct');
const modernClient = () => new ClientV2({ name: 'mcpauth-bench', version: '2.0.0' }, {
  versionNegotiation: { mode: { pin: '2026-07-28' } },
});
// A subclass probes in place (the base class would start a probe sibling process).
class StdioInPlace extends StdioV2 {}

// Lines by which each proxy says it is starting an interactive sign-in. The
// token is meant to be valid throughout; if it is not, the proxy is killed
// at once rather than left to open a browser (mcp-remote would also register
// a client with the AS first, and wait 30 s for a callback).
const SIGN_IN = {
  mcpauth: /signing in|asks for a sign-in/i,
  'mcpauth-2026': /signing in|asks for a sign-in/i,
  'mcp-remote': /Initializing auth|Authentication required|authorize this client/i,
};

/** A fresh, not yet connected client over `path`, with its transport and a cleanup. */
function open(path) {
  let transport;
  let cleanup = () => {};
  let client = new Client({ name: 'mcpauth-bench', version: '1.0.0' });
  if (path === 'mcpauth') {
    transport = new StdioClientTransport({ command: opt.mcpauth, args: ['proxy', opt.account], env: process.env, stderr: 'pipe' });
  } else if (path === 'mcpauth-2026') {
    transport = new StdioInPlace({ command: opt.mcpauth, args: ['proxy', opt.account], env: process.env, stderr: 'pipe' });
    client = modernClient();
  } else if (path === 'mcp-remote') {
    // A throwaway config dir so ~/.mcp-auth is never read or written.
    const configDir = mkdtempSync(join(tmpdir(), 'bench-mcp-remote-'));
    transport = new StdioClientTransport({
      command: process.execPath, args: remoteArgs, env: { ...process.env, MCP_REMOTE_CONFIG_DIR: configDir }, stderr: 'pipe',
    });
    cleanup = () => rmSync(configDir, { recursive: true, force: true });
  } else if (opt.modern) {
    transport = new HttpV2(mcpUrl, { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    client = modernClient();
  } else {
    transport = new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  }
  // Drain the child's stderr (a full pipe would block it), keeping its end
  // for diagnostics. mcp-remote logs two lines per message by default; that
  // cost is part of what its users run, so it is measured, not silenced.
  const log = { head: '', tail: '', lines: 0, signIn: null };
  transport.stderr?.on('data', (chunk) => {
    const s = chunk.toString();
    log.lines += s.split('\n').length - 1;
    if (log.head.length < 2000) log.head += s;
    log.tail = (log.tail + s).slice(-3000);
    if (!log.signIn && SIGN_IN[path].test(s)) {
      log.signIn = s.trim();
      try { process.kill(transport.pid, 'SIGKILL'); } catch {}
    }
  });
  return { client, transport, log, cleanup };
}

/** One whoami call; throws unless it answered with the token's subject. */
async function whoami(client) {
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  const text = result.content?.[0]?.text ?? '';
  if (result.isError || !text.includes('"sub"')) throw new Error(`whoami failed: ${JSON.stringify(result)}`);
}

/** VmRSS and VmHWM of a process, in MB (MiB). */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)[1]);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** Direct children of a process (pid and name), over all its threads. */
function children(pid) {
  const pids = readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean));
  return pids.map((p) => `${p} ${readFileSync(`/proc/${p}/comm`, 'utf8').trim()}`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, digits) => Number(x.toFixed(digits));

/** One run of one path: returns the median ms per call and, for proxies, memory. */
async function measure(path, run) {
  const { client, transport, log, cleanup } = open(path);
  try {
    await client.connect(transport);
    for (let i = 0; i < WARMUP; i++) await whoami(client);
    const times = [];
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      await whoami(client);
      times.push(performance.now() - t0);
    }
    if (log.signIn) throw new Error('it started a sign-in');
    const out = { median: median(times) };
    let note = `median ${out.median.toFixed(3)} ms (min ${Math.min(...times).toFixed(3)}, max ${Math.max(...times).toFixed(3)})`;
    if (transport.pid) {
      // Make sure the pid is the proxy itself, not a wrapper around it.
      const cmdline = readFileSync(`/proc/${transport.pid}/cmdline`, 'utf8').split('\0');
      const expected = path.startsWith('mcpauth') ? opt.mcpauth : remoteEntry;
      if (!cmdline.includes(expected)) throw new Error(`pid ${transport.pid} runs ${cmdline.join(' ')}`);
      Object.assign(out, memory(transport.pid));
      const kids = children(transport.pid);
      note += `, VmRSS ${out.rss.toFixed(1)} MB, VmHWM ${out.hwm.toFixed(1)} MB, children: ${kids.length ? kids.join(', ') : 'none'}`;
      note += `, ${log.lines} stderr lines`;
    }
    console.error(`run ${run} ${path}: ${note}`);
    if (run === 1 && log.head) console.error(`  ${path} stderr begins:\n    ${log.head.split('\n').slice(0, 12).join('\n    ')}`);
    return out;
  } catch (err) {
    const signIn = log.signIn ? `\nit started a sign-in (killed): ${log.signIn}` : '';
    throw new Error(`${path}: ${err.message}${signIn}\nits stderr ends with:\n${log.tail}`, { cause: err });
  } finally {
    if (path === 'direct') await transport.terminateSession?.().catch(() => {}); // the proxies end theirs on stdin EOF
    await client.close().catch(() => {});
    cleanup();
  }
}

const result = { calls, runs, warmup: WARMUP, modern: opt.modern, median_ms: {}, memory_mb: {}, failed: {} };
for (const p of PATHS) result.median_ms[p] = [];
for (const p of PROXIES) result.memory_mb[p] = { rss: [], hwm: [] };

try {
  for (let run = 1; run <= runs; run++) {
    const order = PATHS.map((_, i) => PATHS[(i + run - 1) % PATHS.length]);
    for (const path of order) {
      if (result.failed[path]) continue;
      let m;
      try {
        m = await measure(path, run);
      } catch (err) {
        // A peer that does not speak the server's revision is a finding, not a
        // broken bench; mcpauth and the floor must work.
        if (path !== 'mcp-remote') throw err;
        result.failed[path] = err.message.split('\n')[0];
        console.error(`${path} cannot use this server: ${result.failed[path]}`);
        continue;
      }
      result.median_ms[path].push(round(m.median, 3));
      if (m.rss !== undefined) {
        result.memory_mb[path].rss.push(round(m.rss, 1));
        result.memory_mb[path].hwm.push(round(m.hwm, 1));
      }
    }
  }
} catch (err) {
  console.error(`proxy-call bench failed: ${err.message}`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
