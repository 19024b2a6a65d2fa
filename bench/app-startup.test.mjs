// The app's first render with 100 accounts, and its memory after it (issue 5).
// Run through bench/app.sh, which builds the release app and provides the
// Xvfb, D-Bus and keyring session. Prints a table; asserts nothing about time.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { REPO, byTestId, runPids, startApp, startServers, waitFor } from '../tests/e2e/harness.mjs';

const RUNS = Number(process.env.BENCH_RUNS || 5);
const ACCOUNTS = 100;

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

function comm(pid) {
  try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; }
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};

it(`first render with ${ACCOUNTS} accounts, ${RUNS} runs`, { timeout: 900_000 }, async () => {
  const servers = await startServers({});
  const home = mkdtempSync(join(process.env.MCPAUTH_E2E_TMP || tmpdir(), 'bench-home-'));
  const service = `mcpauth-bench-${process.pid}`;
  const probe = join(process.env.CARGO_TARGET_DIR || join(REPO, 'target'), 'debug', 'examples', 'vault_probe');
  for (let i = 0; i < ACCOUNTS; i++) {
    execFileSync(probe, ['sign-in', servers.info.mcp.current, `user${i}`], {
      env: { ...process.env, MCPAUTH_HOME: home, MCPAUTH_KEYRING_SERVICE: service },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  const render = [];
  const memory = [];
  for (let run = 0; run < RUNS; run++) {
    const ctx = await startApp({ name: `bench-${run}`, env: { MCPAUTH_HOME: home, MCPAUTH_KEYRING_SERVICE: service }, launch: false });
    try {
      const t0 = performance.now();
      await ctx.launch();
      const b = ctx.browser;
      await waitFor(async () => (await b.$$('[data-testid="account-row"]')).length === ACCOUNTS, {
        timeout: 60_000,
        interval: 20,
        message: `${ACCOUNTS} account rows`,
      });
      render.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 1000));
      const pids = runPids(ctx.runId);
      const app = pids.filter((p) => comm(p) === 'mcpauth-app');
      const web = pids.filter((p) => comm(p).startsWith('WebKitWebProces'));
      const net = pids.filter((p) => comm(p).startsWith('WebKitNetworkPr'));
      const sum = (ps) => ps.reduce((a, p) => a + rssMb(p), 0);
      memory.push({ app: sum(app), web: sum(web), net: sum(net) });
    } finally {
      await ctx.cleanup();
    }
  }
  await servers.stop?.();
  const r = stats(render);
  const total = stats(memory.map((m) => m.app + m.web));
  const app = stats(memory.map((m) => m.app));
  const web = stats(memory.map((m) => m.web));
  const net = stats(memory.map((m) => m.net));
  const deb = process.env.BENCH_DEB ? statSync(process.env.BENCH_DEB).size / (1024 * 1024) : NaN;
  const f = (x) => x.toFixed(0);
  console.log(`\n| measure (${RUNS} runs, ${ACCOUNTS} accounts) | min | median | max |`);
  console.log('|---|---|---|---|');
  console.log(`| launch to ${ACCOUNTS} rows rendered (ms, incl. WebDriver session) | ${f(r.min)} | ${f(r.median)} | ${f(r.max)} |`);
  console.log(`| resident: app + web process (MB) | ${f(total.min)} | ${f(total.median)} | ${f(total.max)} |`);
  console.log(`| resident: app (MB) | ${f(app.min)} | ${f(app.median)} | ${f(app.max)} |`);
  console.log(`| resident: web process (MB) | ${f(web.min)} | ${f(web.median)} | ${f(web.max)} |`);
  console.log(`| resident: network process (MB, not in the target) | ${f(net.min)} | ${f(net.median)} | ${f(net.max)} |`);
  console.log(`\n.deb bundle: ${deb.toFixed(1)} MB (${process.env.BENCH_DEB})`);
});
