#!/usr/bin/env node
// Machine time of a whole sign-in done by the official MCP TypeScript SDK
// client (@modelcontextprotocol/sdk), against MCP Auth's test servers
// (tests/servers/start.mjs), to compare with our Rust sign-in in the same run.
//
//   node bench/signin-sdk.mjs --mcp <mcp url> --issuer <main AS issuer> --runs N
//                             [--cache-discovery]
//
// One run = what an SDK-based client does when a user signs in, minus the
// user's clicks: connect → 401 → the SDK's auth() (PRM, AS metadata, dynamic
// registration, PKCE, authorization URL) → redirectToAuthorization, where a
// script plays the user in the AS's login and consent pages (same requests as
// drive_login in crates/testkit/src/servers.rs) → transport.finishAuth(code).
// One untimed warm-up run first. After the timed runs, the last run's access
// token is checked by calling the `whoami` tool (untimed; exits 1 if it fails).
//
// --cache-discovery: the provider also implements the optional
// discoveryState()/saveDiscoveryState(), so finishAuth() reuses the discovery
// done before the redirect. Off by default, like the SDK's own example
// provider (examples/client/simpleOAuthClientProvider.js): finishAuth() then
// fetches the PRM and the AS metadata again.
//
// stdout: exactly one JSON line
//   {"runs_ms":[…], "requests":[…per run…], "request_log":[{server,method,path}…]}
// (request_log = the last run's requests, from GET <issuer>/__test/requests).
// Everything else goes to stderr.

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

// stdout is reserved for the result line, whatever a library might print.
const emit = (line) => process.stdout.write(`${line}\n`);
console.log = console.error;

const { values: args } = parseArgs({
  options: {
    mcp: { type: 'string' },
    issuer: { type: 'string' },
    runs: { type: 'string', default: '5' },
    'cache-discovery': { type: 'boolean', default: false },
  },
});
const runs = Number(args.runs);
if (!args.mcp || !args.issuer || !Number.isSafeInteger(runs) || runs < 1) {
  console.error('usage: node bench/signin-sdk.mjs --mcp <url> --issuer <url> --runs N [--cache-discovery]');
  process.exit(2);
}
const issuer = args.issuer.replace(/\/$/, '');

// Nothing listens here: the scripted user stops at the redirect to it. The
// registration asks for exactly this URI, so the port does not matter.
const REDIRECT_URI = 'http://127.0.0.1:53999/callback';

/**
 * In-memory OAuthClientProvider. The SDK stores nothing itself: client
 * information, PKCE verifier and tokens live only as long as this object
 * (a real client would persist them). A fresh one per run means a fresh
 * dynamic registration per run, since clientInformation() starts undefined.
 */
class Provider {
  #client; #tokens; #verifier; #state = randomBytes(16).toString('base64url');
  code; // set by redirectToAuthorization (the scripted user's final redirect)

  constructor(user) { this.user = user; }
  get redirectUrl() { return REDIRECT_URI; }
  get clientMetadata() {
    return {
      client_name: 'SDK sign-in bench',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    };
  }
  state() { return this.#state; }
  clientInformation() { return this.#client; }
  saveClientInformation(info) { this.#client = info; }
  tokens() { return this.#tokens; }
  saveTokens(tokens) { this.#tokens = tokens; }
  saveCodeVerifier(verifier) { this.#verifier = verifier; }
  codeVerifier() { return this.#verifier; }

  /** The SDK awaits this: here the "user" signs in before auth() returns 'REDIRECT'. */
  async redirectToAuthorization(url) {
    const back = new URL(await driveLogin(url, REDIRECT_URI, this.user));
    const error = back.searchParams.get('error');
    if (error) throw new Error(`authorization failed: ${error} ${back.searchParams.get('error_description')}`);
    if (back.searchParams.get('state') !== this.#state) throw new Error(`state mismatch in ${back}`);
    this.code = back.searchParams.get('code');
    if (!this.code) throw new Error(`no code in ${back}`);
  }
}
if (args['cache-discovery']) {
  Provider.prototype.saveDiscoveryState = function (s) { this.discovery = s; };
  Provider.prototype.discoveryState = function () { return this.discovery; };
}

/**
 * Cookie jar for the scripted browser: per origin, honouring Path and
 * expiry (oidc-provider scopes its interaction cookies to /interaction/<uid>
 * and /auth/<uid>, and expires the old ones), like reqwest's cookie store.
 */
class Jar {
  #cookies = new Map(); // `${origin} ${path} ${name}` → {origin, path, name, value}
  header(url) {
    const pairs = [...this.#cookies.values()]
      .filter((c) => c.origin === url.origin && (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .map((c) => `${c.name}=${c.value}`);
    return pairs.length ? pairs.join('; ') : undefined;
  }
  store(url, response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = (k) => attrs.find((a) => a.toLowerCase().startsWith(`${k}=`))?.slice(k.length + 1);
      const path = attr('path') ?? (url.pathname.replace(/\/[^/]*$/, '') || '/');
      const expires = attr('expires');
      const expired = attr('max-age') === '0' || (expires && Date.parse(expires) <= Date.now());
      const key = `${url.origin} ${path} ${name}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { origin: url.origin, path, name, value });
    }
  }
}

/**
 * The user in the AS's pages, request for request like drive_login: no
 * automatic redirects, follow Location until it starts with the redirect URI;
 * on a page, post its form (`prompt=login&login=…&password=…` or `prompt=<value>`).
 * Returns the final redirect URL (not fetched).
 */
async function driveLogin(authorizationUrl, redirectUri, user) {
  const jar = new Jar();
  let next = new URL(authorizationUrl);
  let form;
  for (let i = 0; i < 20; i++) {
    const headers = {};
    const cookie = jar.header(next);
    if (cookie) headers.cookie = cookie;
    const body = form && new URLSearchParams(form);
    form = undefined;
    const response = await fetch(next, { method: body ? 'POST' : 'GET', headers, body, redirect: 'manual' });
    jar.store(next, response);
    const page = await response.text(); // read every body, so the connection is reused
    if (response.status >= 300 && response.status < 400) {
      const target = new URL(response.headers.get('location'), next);
      if (target.href.startsWith(redirectUri)) return target.href;
      next = target;
      continue;
    }
    if (!response.ok) throw new Error(`authorization server said ${response.status}: ${page}`);
    const action = attrAfter(page, '<form', 'action');
    const at = page.indexOf('name="prompt"');
    const prompt = at >= 0 ? attrAfter(page.slice(at), '', 'value') : undefined;
    if (action === undefined || prompt === undefined) throw new Error(`no form/prompt on page: ${page}`);
    next = new URL(action, next);
    form = prompt === 'login'
      ? { prompt: 'login', login: user, password: 'any password' }
      : { prompt };
  }
  throw new Error(`the authorization server never redirected back to ${redirectUri}`);
}

/** Value of the first `attr="…"` after `after` (same crude parsing as attr_after in servers.rs). */
function attrAfter(html, after, attr) {
  const start = html.indexOf(after);
  if (start < 0) return undefined;
  const rest = html.slice(start);
  const key = `${attr}="`;
  const i = rest.indexOf(key);
  if (i < 0) return undefined;
  const end = rest.indexOf('"', i + key.length);
  return end < 0 ? undefined : rest.slice(i + key.length, end).replaceAll('&amp;', '&');
}

/** One sign-in. Returns its duration (ms) and the provider holding the tokens. */
async function signIn(user) {
  const provider = new Provider(user);
  const started = performance.now();
  const client = new Client({ name: 'signin-sdk-bench', version: '0' });
  const transport = new StreamableHTTPClientTransport(new URL(args.mcp), { authProvider: provider });
  try {
    await client.connect(transport);
    throw new Error('connect() succeeded without signing in');
  } catch (error) {
    // The expected outcome of a first connect: auth() returned 'REDIRECT'.
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  await transport.finishAuth(provider.code); // code exchange; tokens → provider.saveTokens
  const ms = performance.now() - started;
  await client.close(); // outside the timed part (connect already closed it on failure)
  if (!provider.tokens()?.access_token) throw new Error('finishAuth() resolved without tokens');
  return { ms, provider };
}

const testRequests = async (query = '') => {
  const response = await fetch(`${issuer}/__test/requests${query}`);
  if (!response.ok) throw new Error(`GET /__test/requests: ${response.status}`);
  return response.json();
};

await signIn('bench-sdk-warmup');
const result = { runs_ms: [], requests: [], request_log: [] };
let last;
for (let run = 1; run <= runs; run++) {
  await testRequests('?reset=1');
  last = await signIn(`bench-sdk-${run}`);
  const log = await testRequests();
  result.runs_ms.push(Math.round(last.ms * 10) / 10);
  result.requests.push(log.count);
  result.request_log = log.requests;
  console.error(`run ${run}: ${last.ms.toFixed(1)} ms, ${log.count} requests`);
}

// Untimed check that the last sign-in gave a working access token: an SDK
// client with that bearer token and no authProvider (with one, a rejected
// token would be silently refreshed or re-authorized) calls `whoami`.
const token = last.provider.tokens().access_token;
const checker = new Client({ name: 'signin-sdk-bench-check', version: '0' });
try {
  await checker.connect(new StreamableHTTPClientTransport(new URL(args.mcp), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  }));
  const answer = await checker.callTool({ name: 'whoami', arguments: {} });
  const who = JSON.parse(answer.content?.[0]?.text ?? '{}');
  if (answer.isError || who.sub !== last.provider.user) throw new Error(`whoami answered ${JSON.stringify(answer)}`);
  console.error(`whoami: ${JSON.stringify(who)}`);
  await checker.close();
} catch (error) {
  console.error(`FAILED: the sign-in's access token does not work: ${error?.stack ?? error}`);
  process.exit(1);
}

emit(JSON.stringify(result));
