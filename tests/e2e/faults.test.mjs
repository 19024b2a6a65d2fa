// Faults around the app (issue 6): two instances started at the same moment on
// a vault that already holds an account. Exactly one keeps running (the other
// hands over to it through tauri-plugin-single-instance and exits), and the
// vault is intact afterwards: same account, integrity check passing, token
// served. No WebDriver session: the two launches are plain processes, as when a
// user double-clicks twice.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appBinary, appPids, startApp, waitFor } from './harness.mjs';

function cliBinary() {
  return join(dirname(appBinary()), 'mcpauth');
}

function mcpauth(env, args) {
  return new Promise((done) => {
    execFile(cliBinary(), args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('faults around the app', () => {
  let ctx;
  before(async () => {
    ctx = await startApp({ name: 'faults', servers: true, launch: false });
  });
  after(async () => {
    if (ctx) await ctx.cleanup();
  });

  it('two instances started at once: one runs, one hands over, the vault is intact', async () => {
    const env = ctx.env;
    // An account first (a machine account: no browser needed).
    const key = join(ctx.work, 'es256.pem');
    writeFileSync(key, ctx.servers.clients.es256.private_key_pem);
    const login = await mcpauth(env, [
      'login', ctx.servers.mcp.current, '--grant', 'client-credentials',
      '--client-id', 'mcpauth-es256', '--scope', 'mcp:read', '--private-key', key,
    ]);
    assert.equal(login.code, 0, login.stderr);
    const before = JSON.parse((await mcpauth(env, ['list', '--json'])).stdout).accounts;
    assert.equal(before.length, 1);

    const launch = () => {
      // MCPAUTH_LOG=info: the single-instance plugin's warnings ("launching
      // normally" when it cannot reach the session bus) reach stderr.
      const child = spawn(ctx.appBinary, [], { env: { ...env, MCPAUTH_LOG: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
      const result = { child, code: undefined, stderr: '' };
      child.stderr.setEncoding('utf8').on('data', (d) => { result.stderr += d; });
      child.on('exit', (code, signal) => { result.code = code ?? signal; });
      return result;
    };
    const [a, b] = [launch(), launch()];
    // One of them exits by itself (handed over); the other keeps its window.
    try {
      await waitFor(() => a.code !== undefined || b.code !== undefined, { timeout: 30_000, message: 'one instance hands over and exits' });
    } catch (e) {
      // What both said, so a failure on a loaded runner can be read without a rerun.
      throw new Error(`${e.message}\nfirst instance (exit ${a.code ?? 'running'}):\n${a.stderr}\nsecond instance (exit ${b.code ?? 'running'}):\n${b.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 3000));
    const running = [a, b].filter((p) => p.code === undefined);
    const exited = [a, b].filter((p) => p.code !== undefined);
    assert.equal(running.length, 1, `exactly one instance keeps running (exits: ${exited.map((p) => p.code)})\n${a.stderr}\n${b.stderr}`);
    assert.equal(exited[0].code, 0, `the second instance exits cleanly:\n${exited[0].stderr}`);
    assert.equal(appPids(ctx.runId, ctx.appBinary).length, 1, 'one app process of this run');
    assert.doesNotMatch(exited[0].stderr + running[0].stderr, /panicked|database is locked|malformed/i);

    // While it runs, the vault serves the command line too.
    const token = await mcpauth(env, ['token', before[0].id]);
    assert.equal(token.code, 0, token.stderr);
    running[0].child.kill('SIGTERM');
    await waitFor(() => running[0].code !== undefined, { timeout: 10_000, message: 'the app quits' });

    // Afterwards: the same account, intact.
    const list = await mcpauth(env, ['list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const afterList = JSON.parse(list.stdout).accounts;
    assert.deepEqual(afterList.map((x) => [x.id, x.kind, x.granted_scopes]), before.map((x) => [x.id, x.kind, x.granted_scopes]));
    const status = await mcpauth(env, ['status', before[0].id, '--json']);
    assert.equal(status.code, 0, status.stderr);
  });
});
