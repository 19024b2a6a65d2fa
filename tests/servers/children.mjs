// The MCP servers that run in processes of their own: the Python SDK server
// (py_server.py in tests/servers/.venv) and the Rust rmcp server (binary
// mcpauth-test-rmcp, crate tests/servers/rmcp). Each is started with the AS
// issuer and the `/__test/verify` URL, prints one JSON line
// `{"url": …, "prm": …}` once it listens, and exits when its stdin closes.
// A server that cannot be started is reported, not fatal: start.mjs puts the
// reason in the JSON line's `missing` map and starts everything else.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { logger } from './log.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const READY_TIMEOUT_MS = 20_000;

/** What to run and what to tell the user when it is not there. */
export function childSpecs() {
  const python = `${HERE}.venv/bin/python`;
  const rmcpCandidates = process.env.MCPAUTH_TEST_RMCP_BIN
    ? [process.env.MCPAUTH_TEST_RMCP_BIN]
    : [process.env.CARGO_TARGET_DIR && `${process.env.CARGO_TARGET_DIR}/debug/mcpauth-test-rmcp`, `${REPO}target/debug/mcpauth-test-rmcp`].filter(Boolean);
  return {
    py: {
      command: python,
      args: [`${HERE}py_server.py`],
      present: existsSync(python),
      hint: `no Python venv at ${HERE}.venv: run scripts/setup.sh (python3 -m venv tests/servers/.venv && tests/servers/.venv/bin/pip install -r tests/servers/requirements.txt)`,
    },
    rmcp: {
      command: rmcpCandidates.find((p) => existsSync(p)),
      args: [],
      present: rmcpCandidates.some((p) => existsSync(p)),
      hint: `no mcpauth-test-rmcp binary (looked at ${rmcpCandidates.join(', ')}): run cargo build -p mcpauth-test-rmcp`,
    },
  };
}

/**
 * Starts one child server; resolves to `{ url, prm, child }`, or rejects with
 * a readable reason (exit before the line, no line within 20 s, bad line).
 * The child's stderr is copied to ours with a `[name]` prefix.
 */
export function startChild(name, spec, { issuer, verifyUrl, port }) {
  const log = logger(name);
  const args = [...spec.args, '--issuer', issuer, '--verify-url', verifyUrl];
  if (port !== undefined) args.push('--port', String(port));
  const child = spawn(spec.command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => {}); // EPIPE when it has already exited
  createInterface({ input: child.stderr }).on('line', (line) => log(line));

  return new Promise((resolve, reject) => {
    const fail = (reason) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${name} server (${spec.command}) ${reason}`));
    };
    const timer = setTimeout(() => fail(`printed no line within ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
    child.once('error', (err) => fail(`could not be started: ${err.message}`));
    child.once('exit', (code, signal) => fail(`exited before it was ready (${signal ?? `code ${code}`}); see its [${name}] lines on stderr`));
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      let ready;
      try { ready = JSON.parse(line); } catch { ready = undefined; }
      if (!ready?.url) return fail(`printed ${JSON.stringify(line)} instead of {"url":…,"prm":…}`);
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.once('exit', (code, signal) => log(`exited (${signal ?? `code ${code}`})`));
      lines.on('line', (more) => log('stdout:', more));
      return resolve({ url: ready.url, prm: ready.prm, child });
    });
  });
}

/** Ends a child: stdin EOF is its stop signal; SIGTERM too, in case it hangs. */
export function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin.end();
  child.kill('SIGTERM');
}
