#!/usr/bin/env node
// A stdio MCP client of the official TypeScript SDK that runs `mcpauth proxy`
// as Claude Desktop or VS Code would, goes through everything a client does
// with a server (tools, a resource, a prompt, elicitation and sampling
// answered here, progress, a cancelled call, a notification sent outside any
// request), and prints one JSON summary on stdout. Each step records its
// result or its error; the Rust tests (crates/cli/tests/proxy*.rs) assert them.
//
//   node check.mjs --sdk v1|v2 [--version 2025-03-26] [--steps a,b,c] -- <mcpauth> proxy <target> [flags]
//
// --sdk v1: @modelcontextprotocol/sdk 1.x (the initialize handshake; --version
//           makes it ask for an older revision, as older clients do).
// --sdk v2: @modelcontextprotocol/client 2.x pinned to 2026-07-28 (no handshake).
import { parseArgs } from 'node:util';

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ToolListChangedNotificationSchema,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';

// What every test server's `unicode` tool returns (tests/servers/tools.mjs).
const UNICODE_TEXT = Array(2000).fill('héllo wörld — 你好, мир 🌍').join('\n');

const split = process.argv.indexOf('--');
if (split < 0) {
  console.error('usage: node check.mjs --sdk v1|v2 [--version V] [--steps a,b] -- <command> <args...>');
  process.exit(2);
}
const { values: opts } = parseArgs({
  args: process.argv.slice(2, split),
  options: { sdk: { type: 'string', default: 'v1' }, version: { type: 'string' }, steps: { type: 'string' } },
});
const [command, ...args] = process.argv.slice(split + 1);
const ALL = ['tools', 'echo', 'whoami', 'resource', 'prompt', 'elicit', 'sample', 'progress', 'cancel', 'notify', 'unicode', 'route', 'write_note'];
// Also, when named in --steps: `poll` (a stream the server closes early) and
// `session` (the server forgets the session: MCPAUTH_TEST_EXPIRE_URL).
const steps = opts.steps ? opts.steps.split(',') : ALL;
const v2 = opts.sdk === 'v2';

const summary = { sdk: opts.sdk, steps: {} };
const events = { toolsChanged: 0, logs: [] };
const answers = {
  elicit: { action: 'accept', content: { name: 'Ada' } },
  sample: { role: 'assistant', model: 'test-model', content: { type: 'text', text: 'hi!' } },
  roots: { roots: [{ uri: 'file:///tmp/project', name: 'project' }] },
};
const capabilities = { elicitation: { form: {} }, sampling: {}, roots: { listChanged: true } };

let client;
let transport;
if (v2) {
  client = new ClientV2({ name: 'mcpauth-check-v2', version: '2.0.0' }, {
    capabilities: { elicitation: { form: {} }, sampling: {}, roots: {} },
    versionNegotiation: { mode: { pin: '2026-07-28' } },
  });
  client.setRequestHandler('elicitation/create', async () => answers.elicit);
  client.setRequestHandler('sampling/createMessage', async () => answers.sample);
  client.setRequestHandler('roots/list', async () => answers.roots);
  client.setNotificationHandler('notifications/tools/list_changed', () => { events.toolsChanged += 1; });
  client.setNotificationHandler('notifications/message', (n) => events.logs.push(n.params?.data));
  // A subclass probes in place: one proxy process, not a probe sibling and a session child.
  class Transport extends StdioV2 {}
  transport = new Transport({ command, args, env: process.env, stderr: 'inherit' });
} else {
  client = new ClientV1({ name: 'mcpauth-check-v1', version: '1.0.0' }, { capabilities });
  client.setRequestHandler(ElicitRequestSchema, async () => answers.elicit);
  client.setRequestHandler(CreateMessageRequestSchema, async () => answers.sample);
  client.setRequestHandler(ListRootsRequestSchema, async () => answers.roots);
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { events.toolsChanged += 1; });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => events.logs.push(n.params?.data));
  transport = new StdioV1({ command, args, env: process.env, stderr: 'inherit' });
  if (opts.version) {
    // An older client: the same SDK asking for an older revision in initialize.
    const send = transport.send.bind(transport);
    transport.send = (message, options) => {
      if (message.method === 'initialize') message.params.protocolVersion = opts.version;
      return send(message, options);
    };
  }
  transport.setProtocolVersion = (version) => { summary.protocol = version; };
}

const text = (result) => (result.content ?? []).map((c) => c.text ?? '').join('');
const callTool = (params, options) => (v2 ? client.callTool(params, options) : client.callTool(params, undefined, options));
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
async function waitFor(condition, ms) {
  const end = Date.now() + ms;
  while (!condition() && Date.now() < end) await sleep(50);
  return condition();
}
async function step(name, fn) {
  if (!steps.includes(name)) return;
  try {
    summary.steps[name] = { ok: await fn() };
  } catch (err) {
    summary.steps[name] = { error: String(err?.message ?? err) };
  }
}

try {
  await client.connect(transport);
  summary.server = client.getServerVersion()?.name ?? null;
  if (v2) summary.protocol = client.getNegotiatedProtocolVersion();
  let tools = [];
  await step('tools', async () => {
    tools = (await client.listTools()).tools;
    return tools.map((t) => t.name).sort();
  });
  const has = (name) => tools.length === 0 || tools.some((t) => t.name === name);
  await step('echo', async () => text(await callTool({ name: 'echo', arguments: { text: 'héllo, 世界' } })));
  await step('whoami', async () => (has('whoami') ? JSON.parse(text(await callTool({ name: 'whoami', arguments: {} }))) : null));
  await step('resource', async () => (await client.readResource({ uri: 'test://greeting' })).contents.map((c) => c.text).join(''));
  await step('prompt', async () => (await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } }))
    .messages.map((m) => m.content.text).join(''));
  await step('elicit', async () => text(await callTool({ name: 'elicit', arguments: {} })));
  await step('sample', async () => text(await callTool({ name: 'sample', arguments: {} })));
  await step('progress', async () => {
    const seen = [];
    const result = text(await callTool({ name: 'progress', arguments: { steps: 3 } }, {
      onprogress: (p) => seen.push(`${p.progress}/${p.total}`),
    }));
    return { result, progress: seen };
  });
  await step('cancel', async () => {
    const before = JSON.parse(text(await callTool({ name: 'cancelled', arguments: {} }))).aborted;
    const abort = new AbortController();
    setTimeout(() => abort.abort('the user stopped it'), 700);
    const started = Date.now();
    let outcome;
    try {
      await callTool({ name: 'slow', arguments: { ms: 20000 } }, { signal: abort.signal });
      outcome = 'finished';
    } catch (err) {
      outcome = `rejected after ${Date.now() - started} ms`;
    }
    // The server learns of it (a cancellation notice, or the closed stream).
    let after = before;
    const end = Date.now() + 5000;
    while (after <= before && Date.now() < end) {
      await sleep(100);
      after = JSON.parse(text(await callTool({ name: 'cancelled', arguments: {} }))).aborted;
    }
    return { outcome, abortedOnServer: after - before };
  });
  await step('notify', async () => {
    let listening = null;
    if (v2) listening = await client.listen({ toolsListChanged: true });
    const before = events.toolsChanged;
    await callTool({ name: 'notify_later', arguments: {} });
    const arrived = await waitFor(() => events.toolsChanged > before, 8000);
    // Legacy servers also log, just after: a 2025 client hears it, a
    // 2026-07-28 one must not (logging belongs to a request there).
    const hello = () => events.logs.filter((l) => l === 'out-of-band hello').length;
    await waitFor(() => hello() > 0, 1500);
    await listening?.close?.();
    return { toolsChanged: arrived, logs: hello() };
  });
  await step('unicode', async () => {
    const got = text(await callTool({ name: 'unicode', arguments: {} }));
    return { chars: [...got].length, intact: got === UNICODE_TEXT };
  });
  await step('route', async () => (has('route') ? text(await callTool({ name: 'route', arguments: { region: 'eu-west 1' } })) : null));
  await step('write_note', async () => (has('write_note') ? text(await callTool({ name: 'write_note', arguments: { text: 'hi' } })) : null));
  await step('poll', async () => text(await callTool({ name: 'poll', arguments: {} })));
  await step('session', async () => {
    const before = text(await callTool({ name: 'echo', arguments: { text: 'before' } }));
    const expired = await (await fetch(process.env.MCPAUTH_TEST_EXPIRE_URL, { method: 'POST' })).json();
    const after = text(await callTool({ name: 'echo', arguments: { text: 'after' } }));
    return { before, expired: expired.expired, after };
  });
} catch (err) {
  summary.fatal = String(err?.message ?? err);
} finally {
  await client.close().catch(() => {});
}
// Exit once the summary is written: stdout is a pipe, written asynchronously.
process.stdout.write(`${JSON.stringify(summary)}\n`, () => process.exit(summary.fatal ? 1 : 0));
