#!/usr/bin/env node
// The client the official MCP conformance suite runs (`conformance client
// --command "exec node conformance-driver.mjs"`; the suite appends the URL of
// its test server). It is an ordinary stdio client of the TypeScript SDK that
// reaches that server through `mcpauth proxy`, so what the suite checks on
// the wire (discovery, sign-in, headers, revision handling) is the proxy's.
//
// Environment: MCPAUTH_BIN (the mcpauth binary), MCPAUTH_DRIVER_SDK (v1: the
// 1.x SDK and the initialize handshake, so the proxy translates for 2026-07-28
// servers; v2: the 2.x SDK pinned to 2026-07-28 where the scenario speaks it),
// and the suite's MCP_CONFORMANCE_SCENARIO / _CONTEXT / _PROTOCOL_VERSION.
// Each run gets its own MCP Auth home and keyring service (the suite runs
// scenarios concurrently and reuses ports).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';

const here = dirname(fileURLToPath(import.meta.url));
const url = process.argv.at(-1);
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}');
const wire = process.env.MCP_CONFORMANCE_PROTOCOL_VERSION ?? '';
const bin = process.env.MCPAUTH_BIN ?? 'mcpauth';
const v2 = process.env.MCPAUTH_DRIVER_SDK === 'v2' && wire >= '2026-07-28';
const log = (...a) => console.error('[driver]', ...a);

// --- one private MCP Auth per run --------------------------------------------
const home = mkdtempSync(join(tmpdir(), 'mcpauth-conformance-'));
const env = {
  ...process.env,
  MCPAUTH_HOME: home,
  MCPAUTH_KEYRING_SERVICE: `mcpauth-conformance-${process.pid}-${Date.now()}`,
  BROWSER: `${process.execPath} ${join(here, 'conformance-browser.mjs')}`,
};
const secretFile = (name, value) => {
  const path = join(home, name);
  writeFileSync(path, value, { mode: 0o600 });
  return path;
};
const proxyArgs = ['proxy', url];
if (scenario === 'auth/pre-registration') {
  proxyArgs.push('--client-id', context.client_id, '--client-secret-file', secretFile('secret', context.client_secret));
} else if (scenario === 'auth/client-credentials-basic') {
  proxyArgs.push('--grant', 'client-credentials', '--client-id', context.client_id,
    '--client-secret-file', secretFile('secret', context.client_secret));
} else if (scenario === 'auth/client-credentials-jwt') {
  proxyArgs.push('--grant', 'client-credentials', '--client-id', context.client_id,
    '--private-key', secretFile('key.pem', context.private_key_pem), '--signing-alg', context.signing_algorithm ?? 'ES256');
} else if (scenario === 'auth/wif-jwt-bearer') {
  // Workload identity: the platform's JWT, as a projected token file.
  proxyArgs.push('--grant', 'jwt-bearer', '--client-id', context.client_id,
    '--assertion-file', secretFile('workload.jwt', context.valid_jwt));
} else if (scenario === 'auth/enterprise-managed-authorization') {
  // Enterprise-managed (SEP-990): the suite hands over the ID token of a
  // sign-in at its identity provider, as an SSO agent's file would.
  proxyArgs.push('--idp', context.idp_issuer, '--idp-client-id', context.idp_client_id,
    '--id-token-file', secretFile('id-token.jwt', context.idp_id_token),
    '--client-id', context.client_id, '--client-secret-file', secretFile('secret', context.client_secret));
} else if (scenario === 'auth/basic-cimd') {
  // The suite's own Client ID Metadata Document URL (the client we publish is elsewhere).
  proxyArgs.push('--client-metadata-url', 'https://conformance-test.local/client-metadata.json');
}

// --- the client ------------------------------------------------------------------
const proxyStderr = [];
let client;
let transport;
if (v2) {
  client = new ClientV2({ name: 'mcpauth-conformance-v2', version: '2.0.0' }, {
    capabilities: { elicitation: { form: {} }, sampling: {}, roots: {} },
    versionNegotiation: { mode: { pin: '2026-07-28' } },
  });
  class Transport extends StdioV2 {} // probes in place: one proxy process
  transport = new Transport({ command: bin, args: proxyArgs, env, stderr: 'pipe' });
} else {
  client = new ClientV1({ name: 'mcpauth-conformance-v1', version: '1.0.0' }, {
    capabilities: { elicitation: { form: { applyDefaults: true } }, sampling: {}, roots: {} },
  });
  transport = new StdioV1({ command: bin, args: proxyArgs, env, stderr: 'pipe' });
}
// The proxy's stderr is read here, not inherited: the suite waits for every
// holder of its pipes to exit.
transport.stderr?.on('data', (d) => proxyStderr.push(String(d)));

let parallelCall = null;
const onElicit = async (params) => {
  if (scenario === 'sep-2322-client-request-state' && !parallelCall) {
    // Another call while this one waits for input: its answers must not leak into it.
    parallelCall = callTool('test_mrtr_unrelated', {}).catch((e) => log('unrelated:', e.message));
    await parallelCall;
  }
  const schema = params?.requestedSchema?.properties ?? {};
  const content = {};
  for (const [name, prop] of Object.entries(schema)) {
    if (prop.type === 'boolean') content[name] = true;
  }
  return { action: 'accept', content };
};
if (v2) {
  client.setRequestHandler('elicitation/create', async (r) => onElicit(r.params));
  client.setRequestHandler('sampling/createMessage', async () => ({ role: 'assistant', model: 'm', content: { type: 'text', text: 'ok' } }));
  client.setRequestHandler('roots/list', async () => ({ roots: [] }));
} else {
  client.setRequestHandler(ElicitRequestSchema, async (r) => onElicit(r.params));
}

function callTool(name, args) {
  return v2 ? client.callTool({ name, arguments: args }) : client.callTool({ name, arguments: args });
}

/** Arguments that satisfy a tool's required properties. */
function argumentsFor(tool) {
  const args = {};
  const props = tool.inputSchema?.properties ?? {};
  for (const name of tool.inputSchema?.required ?? []) {
    const type = props[name]?.type;
    args[name] = type === 'integer' || type === 'number' ? 1 : type === 'boolean' ? true : type === 'object' ? {} : 'test';
  }
  return args;
}

async function run() {
  await client.connect(transport);
  if (scenario === 'initialize') return;
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  switch (scenario) {
    case 'tools_call':
      await callTool('add_numbers', { a: 2, b: 3 });
      return;
    case 'elicitation-sep1034-client-defaults':
      await callTool('test_client_elicitation_defaults', {});
      return;
    case 'sse-retry':
      await callTool('test_reconnection', {});
      return;
    case 'sep-2322-client-request-state':
      for (const name of ['test_mrtr_echo_state', 'test_mrtr_no_state', 'test_mrtr_no_result_type']) {
        await callTool(name, {});
      }
      if (!parallelCall) await callTool('test_mrtr_unrelated', {});
      return;
    case 'http-custom-headers':
      for (const call of context.toolCalls ?? []) await callTool(call.name, call.arguments);
      return;
    case 'http-invalid-tool-headers':
      for (const tool of tools) await callTool(tool.name, argumentsFor(tool));
      return;
    case 'http-standard-headers': {
      for (const tool of tools) await callTool(tool.name, argumentsFor(tool));
      const { resources } = await client.listResources();
      for (const r of resources) await client.readResource({ uri: r.uri });
      const { prompts } = await client.listPrompts();
      for (const p of prompts) {
        const a = Object.fromEntries((p.arguments ?? []).filter((x) => x.required).map((x) => [x.name, 'test']));
        await client.getPrompt({ name: p.name, arguments: a });
      }
      return;
    }
    case 'json-schema-2020-12-preservation': {
      const focal = tools.find((t) => t.name === 'json_schema_2020_12_tool');
      await callTool('json_schema_echo', { schema: focal?.inputSchema ?? {} });
      return;
    }
    case 'json-schema-ref-no-deref':
    case 'request-metadata':
      return;
    default:
      // The auth scenarios: a listed tool, then a call (step-up and the
      // authorization-server change happen on the call).
      await callTool(names.includes('test-tool') ? 'test-tool' : names[0], {});
  }
}

let code = 0;
const deadline = setTimeout(() => {
  log(`${scenario}: no end after 50 s`);
  finish(1);
}, 50_000);
async function finish(exitCode) {
  clearTimeout(deadline);
  await client.close().catch(() => {});
  rmSync(home, { recursive: true, force: true });
  if (exitCode !== 0 && proxyStderr.length) log(`proxy stderr:\n${proxyStderr.join('')}`);
  process.exit(exitCode);
}
process.on('SIGTERM', () => finish(1));
try {
  await run();
} catch (err) {
  log(`${scenario}: ${err?.message ?? err}`);
  code = 1;
}
await finish(code);
