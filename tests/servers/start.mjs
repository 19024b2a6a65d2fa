#!/usr/bin/env node
// Starts MCP Auth's test servers on 127.0.0.1 and prints ONE line of JSON on
// stdout once everything listens (the contract is documented in README.md).
// All logging goes to stderr.
//
//   node tests/servers/start.mjs [--fixed-ports] [--delay-ms N]
//                                [--access-token-ttl S] [--ignore-stdin]
//
// Env equivalents: MCPAUTH_TEST_DELAY_MS, MCPAUTH_TEST_AT_TTL,
// MCPAUTH_TEST_FIXED_PORTS=1, MCPAUTH_TEST_IGNORE_STDIN=1.
//
// Stops on SIGTERM, SIGINT, or when stdin reaches EOF / closes (so a test
// process that dies takes its servers with it). --ignore-stdin disables the
// stdin watch for interactive demos run in the background (`&` gives the
// process /dev/null as stdin, which would stop it at once).
//
// The Python and Rust MCP servers run as child processes (children.mjs) and
// stop with this one; one that is not installed or does not start is left
// out and named, with the reason, in the JSON line's `missing`.

import { emitStdout, logger } from './log.mjs'; // must stay the first import

import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

import express from 'express';

import { createClients, createIdpClients, createProvider } from './as.mjs';
import { mountVerify } from './auth.mjs';
import { createTestCa } from './ca.mjs';
import { childSpecs, startChild, stopChild } from './children.mjs';
import { genServerOf, isGenMcpPath, mountGenerations } from './gen.mjs';
import {
  IDJAG_CLIENT, createIdp, enableTokenExchange, mountIdjagHooks,
} from './idjag.mjs';
import { mountMcp } from './mcp.mjs';
import { memoryAdapter } from './store.mjs';
import { createPlatform } from './workload.mjs';

const log = logger('start');
const HOST = '127.0.0.1';
const FIXED_PORTS = {
  mainAs: 4400, tenantAs: 4401, current: 4402, fallback: 4403, cimd: 4404,
  gen: 4405, py: 4406, rmcp: 4407, // py and rmcp bind their own (child processes)
  idp: 4408,
}; // 4409..4410 reserved for later additions
const CIMD_PATH = '/mcpauth/client-metadata.json';
const CIMD_SOURCE = new URL('../../client-metadata/mcpauth.json', import.meta.url);

// --- options ----------------------------------------------------------------
const { values: args } = parseArgs({
  options: {
    'fixed-ports': { type: 'boolean' },
    'delay-ms': { type: 'string' },
    'access-token-ttl': { type: 'string' },
    'ignore-stdin': { type: 'boolean' },
  },
});
const envFlag = (name) => ['1', 'true', 'yes'].includes(String(process.env[name] ?? '').toLowerCase());
function intOption(value, name, min) {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    log(`invalid ${name}: ${value}`);
    process.exit(2);
  }
  return n;
}
const options = {
  fixedPorts: args['fixed-ports'] ?? envFlag('MCPAUTH_TEST_FIXED_PORTS'),
  delayMs: intOption(args['delay-ms'] ?? process.env.MCPAUTH_TEST_DELAY_MS ?? 0, 'delay-ms', 0),
  accessTokenTtl: intOption(args['access-token-ttl'] ?? process.env.MCPAUTH_TEST_AT_TTL ?? 3600, 'access-token-ttl', 1),
  ignoreStdin: args['ignore-stdin'] ?? envFlag('MCPAUTH_TEST_IGNORE_STDIN'),
};

// --- listen first, so every URL (and so every issuer) is known -------------
const ca = await createTestCa();
const servers = {
  mainAs: http.createServer(),
  tenantAs: http.createServer(),
  current: http.createServer(),
  fallback: http.createServer(),
  cimd: https.createServer({ cert: ca.certPem, key: ca.keyPem }),
  gen: http.createServer(), // every SDK generation: ts1, sse, ts2, lazy, open (gen.mjs)
  idp: http.createServer(), // the enterprise identity provider (idjag.mjs)
};
const port = {};
await Promise.all(Object.entries(servers).map(([name, server]) => new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(options.fixedPorts ? FIXED_PORTS[name] : 0, HOST, () => {
    server.off('error', reject);
    port[name] = server.address().port;
    resolve();
  });
}))).catch((err) => {
  log('cannot listen:', err.message);
  process.exit(1);
});

const origin = (name, scheme = 'http') => `${scheme}://${HOST}:${port[name]}`;
const issuer = origin('mainAs');
const tenantIssuer = `${origin('tenantAs')}/tenant1`;
const idpIssuer = origin('idp');
const mcp = {
  current: `${origin('current')}/mcp`,
  dpop: `${origin('current')}/dpop/mcp`,
  fallback: `${origin('fallback')}/mcp`,
  legacy: `${issuer}/legacy/mcp`,
};
const prm = {
  current: `${origin('current')}/.well-known/oauth-protected-resource/mcp`,
  dpop: `${origin('current')}/.well-known/oauth-protected-resource/dpop/mcp`,
  fallback: `${origin('fallback')}/.well-known/oauth-protected-resource`,
};
const cimdBase = origin('cimd', 'https');
const cimdClientId = `${cimdBase}${CIMD_PATH}`;

// The Python and Rust servers start now, in parallel with the key generation
// below, and are awaited just before the JSON line. Their URLs are known only
// once they listen (port 0); `missing` says why one is absent.
const missing = {};
const children = {};
const childStarts = Object.entries(childSpecs()).map(([name, spec]) => {
  if (!spec.present) {
    missing[name] = spec.hint;
    return undefined;
  }
  return startChild(name, spec, {
    issuer, verifyUrl: `${issuer}/__test/verify`, port: options.fixedPorts ? FIXED_PORTS[name] : undefined,
  }).then((started) => { children[name] = started; }, (err) => { missing[name] = err.message; });
});

// --- authorization servers ---------------------------------------------------
const clients = await createClients();
const resources = new Set(Object.values(mcp));
const providerOptions = {
  resources: () => resources,
  clients: clients.metadata,
  accessTokenTtl: options.accessTokenTtl,
  caCertPem: ca.caCertPem,
  fetchTimeoutMs: 2500 + options.delayMs, // oidc-provider's own default is 2500
};
// The workload platform whose tokens the main AS accepts (workload.mjs), and
// every JWT bearer request that reached it.
const platform = await createPlatform();
const workloadLog = [];
// The enterprise IdP (SEP-990, idjag.mjs): an OpenID provider of its own whose
// ID-JAGs both authorization servers accept, from the client `mcpauth-idjag`.
const idp = await createIdp({ issuer: idpIssuer, audiences: { [issuer]: IDJAG_CLIENT, [tenantIssuer]: IDJAG_CLIENT } });
const mainProvider = await createProvider({
  ...providerOptions, issuer, jwtAlg: 'ES256', cookiePrefix: '', name: 'as:main', workload: { platform, log: workloadLog }, idjag: idp,
});
const tenantProvider = await createProvider({
  ...providerOptions, issuer: tenantIssuer, jwtAlg: 'RS256', cookiePrefix: '_t1', name: 'as:tenant1', idjag: idp,
});
const idpClients = createIdpClients();
const idpProvider = await createProvider({
  ...providerOptions,
  resources: () => new Set(), // it signs users in; access tokens only for its userinfo
  clients: idpClients.metadata,
  issuer: idpIssuer,
  jwtAlg: 'RS256',
  cookiePrefix: '_idp',
  name: 'idp',
  extraKeys: [idp.privateJwk],
  // Its ID tokens expire with the access tokens (--access-token-ttl), so a
  // test can see a client refresh an expired ID token before exchanging it.
  idTokenTtl: options.accessTokenTtl,
});
enableTokenExchange(idpProvider, idp);

// Token endpoint counts per grant type, so tests can prove how many refreshes
// reached the server (GET /__test/stats on each AS origin).
function countGrants(provider) {
  const stats = { success: {}, error: {} };
  const bump = (table, ctx) => {
    const type = ctx.oidc?.params?.grant_type ?? 'unknown';
    table[type] = (table[type] ?? 0) + 1;
  };
  provider.on('grant.success', (ctx) => bump(stats.success, ctx));
  provider.on('grant.error', (ctx) => bump(stats.error, ctx));
  return stats;
}
const mainStats = countGrants(mainProvider);
const tenantStats = countGrants(tenantProvider);
const idpStats = countGrants(idpProvider);

// --- express apps --------------------------------------------------------------
// Every request any server received, in order (GET /__test/requests on the
// main AS origin; `?reset=1` empties it after answering). Benchmarks count the
// round trips of a sign-in with it. /__test paths themselves are not logged;
// it stops growing at 100,000 entries.
let requestLog = [];

// Entries for MCP endpoints also carry the MCP request headers (`headers`)
// and whether an Authorization header was sent (`auth`, never its value).
const MCP_LOG_HEADERS = new Set(['mcp-protocol-version', 'mcp-session-id', 'last-event-id', 'mcp-method', 'mcp-name']);
function mcpLogFields(req) {
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (MCP_LOG_HEADERS.has(k) || k.startsWith('mcp-param-')) headers[k] = v;
  }
  return { headers, auth: req.headers.authorization !== undefined };
}

/**
 * A fresh express app whose first middleware applies the --delay-ms delay.
 * `isMcp(path)` marks the MCP endpoints, `serverOf(path)` names the server
 * in the request log when one app serves several.
 */
function newApp(name, { isMcp = () => false, serverOf = () => name } = {}) {
  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => {
    if (!req.path.includes('/__test/') && requestLog.length < 100_000) {
      const entry = { server: serverOf(req.path) ?? name, method: req.method, path: req.path };
      requestLog.push(isMcp(req.path) ? { ...entry, ...mcpLogFields(req) } : entry);
    }
    next();
  });
  if (options.delayMs > 0) {
    app.use((req, res, next) => { setTimeout(next, options.delayMs); });
  }
  return app;
}
const fetchTimeoutMs = 10_000 + options.delayMs * 2;

// Main AS (at the root) + the legacy MCP server on the same origin. The legacy
// route is registered first; everything else falls through to oidc-provider,
// which answers 404 for unknown paths, including both PRM well-known URLs.
const mainApp = newApp('mainAs', { isMcp: (path) => path === '/legacy/mcp' });
const legacy = mountMcp(mainApp, {
  path: '/legacy/mcp', resource: mcp.legacy, issuer, jwksUri: `${issuer}/jwks`, style: 'legacy', fetchTimeoutMs,
});
mainApp.get('/__test/stats', (req, res) => res.json(mainStats));
// A test's own mock MCP server (crates/testkit mcp_mock.rs) becomes a resource
// both ASes issue tokens for: POST /__test/resources {"resource": "<its URL>"}.
mainApp.post('/__test/resources', express.json(), (req, res) => {
  const resource = req.body?.resource;
  if (typeof resource !== 'string' || !/^https?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(resource)) {
    return res.status(400).json({ error: 'a loopback http(s) URL is required as "resource"' });
  }
  resources.add(resource);
  return res.json({ resources: resources.size });
});
// A registration deleted behind the client's back (an administrator's clean-up):
// DELETE /__test/clients/<client_id>; the next token request with that client
// gets invalid_client. Only dynamically registered clients live in the store.
mainApp.delete('/__test/clients/:id', async (req, res) => {
  const clientStore = new (memoryAdapter(issuer))('Client');
  if (!(await clientStore.find(req.params.id))) {
    return res.status(404).json({ error: 'no dynamically registered client with this id' });
  }
  await clientStore.destroy(req.params.id);
  return res.json({ deleted: req.params.id });
});
// A client registered elsewhere and carried here (the upgrade test's clients,
// made by an earlier run of these servers): PUT /__test/clients/<client_id>
// {"client_secret": "..."} or {"private_key_pem": "..."} stores a
// client_credentials client with that secret, or the public half of that key.
mainApp.put('/__test/clients/:id', express.json({ limit: '64kb' }), async (req, res) => {
  const { client_secret: clientSecret, private_key_pem: pem } = req.body ?? {};
  const base = {
    client_id: req.params.id, grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
  };
  let metadata;
  if (typeof clientSecret === 'string') {
    metadata = { ...base, client_secret: clientSecret, token_endpoint_auth_method: 'client_secret_basic' };
  } else if (typeof pem === 'string') {
    let jwk;
    try {
      jwk = createPublicKey(pem).export({ format: 'jwk' });
    } catch (e) {
      return res.status(400).json({ error: `not a private key: ${e.message}` });
    }
    metadata = { ...base, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...jwk, use: 'sig' }] } };
  } else {
    return res.status(400).json({ error: 'give "client_secret" or "private_key_pem"' });
  }
  await new (memoryAdapter(issuer))('Client').upsert(req.params.id, metadata);
  return res.json({ registered: req.params.id });
});
// Workload identity: POST /__test/workload-token {"sub", "aud", "expires_in"}
// (all optional; aud defaults to this AS) returns {"assertion"}, a token as
// the platform would project it; GET /__test/workload-log lists every JWT
// bearer request with its subject and outcome.
mainApp.post('/__test/workload-token', express.json(), async (req, res) => {
  const { sub, aud = issuer, expires_in: expiresIn } = req.body ?? {};
  res.json({ assertion: await platform.issue({ sub, aud, expiresIn }) });
});
mainApp.get('/__test/workload-log', (req, res) => res.json({ requests: workloadLog }));
// Enterprise-managed authorization: GET /__test/idjag-log (every token
// exchange at the IdP and every ID-JAG presented to an AS, with outcomes),
// POST /__test/idjag-next (spoil the next ID-JAG or refuse the next exchange).
mountIdjagHooks(mainApp, idp);
mainApp.get('/__test/requests', (req, res) => {
  res.json({ count: requestLog.length, requests: requestLog });
  if (req.query.reset) requestLog = [];
});
// Token validation for the MCP servers in other processes (Python, Rust).
mountVerify(mainApp, { path: '/__test/verify', issuer, jwksUri: `${issuer}/jwks`, fetchTimeoutMs });
// The authorization server down while the MCP servers stay up (an outage of
// the identity provider): POST /__test/outage {"down": true} closes every
// connection to the token endpoint unanswered, {"down": false} ends it. The
// count of requests refused so shows what reached the server meanwhile.
const outage = { down: false, refused: 0 };
mainApp.post('/__test/outage', express.json(), (req, res) => {
  outage.down = req.body?.down === true;
  res.json(outage);
});
mainApp.use((req, res, next) => {
  if (!outage.down || req.path !== '/token') return next();
  outage.refused += 1;
  req.socket.destroy();
});
mainApp.use(mainProvider.callback());

// Tenant AS: only under /tenant1. Root well-known URLs fall to express's 404.
const tenantApp = newApp('tenantAs');
tenantApp.get('/tenant1/__test/stats', (req, res) => res.json(tenantStats));
tenantApp.use('/tenant1', tenantProvider.callback());

// The enterprise IdP, at the root of its own origin.
const idpApp = newApp('idp');
idpApp.get('/__test/stats', (req, res) => res.json(idpStats));
idpApp.use(idpProvider.callback());

// Current MCP server: path-aware PRM only.
const prmDocument = (resource, as) => ({
  resource,
  authorization_servers: [as],
  scopes_supported: ['mcp:read', 'mcp:write', 'mcp:admin'],
  bearer_methods_supported: ['header'],
});
const currentApp = newApp('current', { isMcp: (path) => path === '/mcp' || path === '/dpop/mcp' });
currentApp.get('/.well-known/oauth-protected-resource/mcp', (req, res) => res.json(prmDocument(mcp.current, issuer)));
const current = mountMcp(currentApp, {
  path: '/mcp', resource: mcp.current, issuer, jwksUri: `${issuer}/jwks`, style: 'current', prmUrl: prm.current, fetchTimeoutMs,
});
// DPoP MCP server beside it (dpop.mjs): bound tokens only, its own nonces;
// its metadata says so (RFC 9728 §2). GET /__test/dpop[?jkt=<thumbprint>]: what
// it accepted and refused (of the proofs that key signed).
currentApp.get('/.well-known/oauth-protected-resource/dpop/mcp', (req, res) => res.json({
  ...prmDocument(mcp.dpop, issuer),
  dpop_signing_alg_values_supported: ['ES256'],
  dpop_bound_access_tokens_required: true,
}));
const dpopMcp = mountMcp(currentApp, {
  path: '/dpop/mcp', resource: mcp.dpop, issuer, jwksUri: `${issuer}/jwks`, style: 'current', prmUrl: prm.dpop, fetchTimeoutMs, dpop: true,
});
currentApp.get('/__test/dpop', (req, res) => res.json(dpopMcp.stats(req.query.jkt)));

// Fallback MCP server: root PRM only, no resource_metadata in challenges.
const fallbackApp = newApp('fallback', { isMcp: (path) => path === '/mcp' });
fallbackApp.get('/.well-known/oauth-protected-resource', (req, res) => res.json(prmDocument(mcp.fallback, tenantIssuer)));
const fallback = mountMcp(fallbackApp, {
  path: '/mcp', resource: mcp.fallback, issuer: tenantIssuer, jwksUri: `${tenantIssuer}/jwks`, style: 'fallback', fetchTimeoutMs,
});

// Client ID Metadata Document over HTTPS: the shipped document with its
// client_id replaced by this server's own URL for it.
const cimdDocument = { ...JSON.parse(await readFile(CIMD_SOURCE, 'utf8')), client_id: cimdClientId };
const cimdApp = newApp('cimd');
cimdApp.get(CIMD_PATH, (req, res) => res.set('Cache-Control', 'max-age=60').json(cimdDocument));

// Every SDK generation on one more origin (gen.mjs).
const genApp = newApp('gen', { isMcp: isGenMcpPath, serverOf: genServerOf });
const gen = mountGenerations(genApp, {
  origin: origin('gen'), issuer, tenantIssuer, fetchTimeoutMs,
});
Object.assign(mcp, gen.mcp);
Object.assign(prm, gen.prm);

servers.mainAs.on('request', mainApp);
servers.tenantAs.on('request', tenantApp);
servers.current.on('request', currentApp);
servers.fallback.on('request', fallbackApp);
servers.cimd.on('request', cimdApp);
servers.gen.on('request', genApp);
servers.idp.on('request', idpApp);

await Promise.all(childStarts);
for (const name of ['py', 'rmcp']) {
  if (!children[name]) continue;
  mcp[name] = children[name].url;
  prm[name] = children[name].prm;
}
for (const url of Object.values(mcp)) resources.add(url); // the AS accepts every one of them

// --- the contract line -----------------------------------------------------------
emitStdout(JSON.stringify({
  issuer,
  tenantIssuer,
  idpIssuer,
  mcp,
  prm,
  cimd: { base: cimdBase, clientId: cimdClientId, caCertPem: ca.caCertPem },
  clients: { ...clients.described, ...idpClients.described },
  options: { delayMs: options.delayMs, accessTokenTtl: options.accessTokenTtl, fixedPorts: options.fixedPorts },
  pid: process.pid,
  ...(Object.keys(missing).length ? { missing } : {}),
}));
for (const [name, why] of Object.entries(missing)) log(`${name} MCP server missing: ${why}`);
log(`ready: AS ${issuer}, tenant AS ${tenantIssuer}, IdP ${idpIssuer}, MCP ${Object.values(mcp).join(' ')}, CIMD ${cimdClientId}`);

// --- lifetime ------------------------------------------------------------------
let stopping = false;
async function stop(reason) {
  if (stopping) return;
  stopping = true;
  log(`stopping (${reason})`);
  for (const { child } of Object.values(children)) stopChild(child);
  await Promise.allSettled([legacy, current, dpopMcp, fallback, gen].map((m) => m.close()));
  for (const server of Object.values(servers)) {
    server.close();
    server.closeAllConnections();
  }
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
if (!options.ignoreStdin) {
  process.stdin.on('end', () => stop('stdin closed'));
  process.stdin.on('close', () => stop('stdin closed'));
  process.stdin.on('error', () => stop('stdin error'));
  process.stdin.resume(); // read (and discard) stdin so that EOF is noticed
}
