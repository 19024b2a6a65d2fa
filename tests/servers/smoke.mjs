#!/usr/bin/env node
// Smoke test for the test servers: starts start.mjs as a child process, reads
// its JSON line, then drives every server over plain HTTP (fetch with manual
// redirects and a small cookie jar), the way MCP Auth's Rust tests will.
//
//   node tests/servers/smoke.mjs          (exit code 0 = all good)
//   SMOKE_VERBOSE=1 node tests/servers/smoke.mjs   (echo server logs, show details)

import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { SignJWT, decodeJwt, importJWK, importPKCS8 } from 'jose';

import { genChecks } from './smoke-gen.mjs';
import { idjagChecks } from './smoke-idjag.mjs';

const START = fileURLToPath(new URL('./start.mjs', import.meta.url));
const VERBOSE = !!process.env.SMOKE_VERBOSE;
const findings = {}; // observed behaviour worth recording (printed at the end)

// --- tiny test harness ---------------------------------------------------------
let failures = 0;
let passes = 0;
function check(cond, msg, detail) {
  if (cond) {
    passes += 1;
    if (VERBOSE) console.log(`  ok   ${msg}`);
  } else {
    failures += 1;
    console.log(`  FAIL ${msg}${detail !== undefined ? `\n       ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`);
  }
  return cond;
}
async function step(name, fn) {
  console.log(`- ${name}`);
  try {
    await fn();
  } catch (err) {
    failures += 1;
    console.log(`  FAIL ${name} threw: ${err.stack ?? err}`);
  }
}

// --- child process -------------------------------------------------------------------
async function startServers(extraArgs = []) {
  const child = spawn(process.execPath, [START, ...extraArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr.push(d); if (VERBOSE) process.stderr.write(d); });
  const lines = createInterface({ input: child.stdout });
  const stdoutLines = [];
  const env = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no JSON within 20 s; stderr:\n${stderr.join('')}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`start.mjs exited (${code}); stderr:\n${stderr.join('')}`)));
    lines.on('line', (line) => {
      stdoutLines.push(line);
      if (stdoutLines.length === 1) {
        clearTimeout(timer);
        try { resolve(JSON.parse(line)); } catch (err) { reject(err); }
      }
    });
  });
  return { child, env, stderr, stdoutLines };
}

// --- HTTP helpers ---------------------------------------------------------------------
/** Cookie jar keyed by origin; ignores Path (fine for these servers, see README). */
class Jar {
  #byOrigin = new Map();
  header(url) {
    const m = this.#byOrigin.get(new URL(url).origin);
    return m && m.size ? [...m].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }
  store(url, res) {
    const origin = new URL(url).origin;
    if (!this.#byOrigin.has(origin)) this.#byOrigin.set(origin, new Map());
    const m = this.#byOrigin.get(origin);
    for (const sc of res.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now())
        || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') m.delete(name); else m.set(name, value);
    }
  }
}

async function http(url, { method = 'GET', headers = {}, form, json, jar } = {}) {
  const h = { ...headers };
  let body;
  if (form) {
    body = new URLSearchParams(form).toString();
    h['content-type'] = 'application/x-www-form-urlencoded';
  } else if (json !== undefined) {
    body = JSON.stringify(json);
    h['content-type'] = 'application/json';
  }
  const cookie = jar?.header(url);
  if (cookie) h.cookie = cookie;
  const res = await fetch(url, { method, headers: h, body, redirect: 'manual' });
  jar?.store(url, res);
  const text = await res.text();
  let data;
  try { data = JSON.parse(text); } catch { data = undefined; }
  return { status: res.status, headers: res.headers, text, json: data, location: res.headers.get('location') };
}

const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

async function discover(issuer) {
  const u = new URL(issuer);
  // RFC 8414 path insertion first (the only form our main AS answers at the root).
  const r = await http(u.pathname === '/'
    ? `${u.origin}/.well-known/oauth-authorization-server`
    : `${issuer}/.well-known/openid-configuration`);
  if (r.status !== 200) throw new Error(`discovery failed for ${issuer}: ${r.status}`);
  return r.json;
}

/**
 * Drives oidc-provider's devInteractions through login and consent.
 * Returns the redirect URI callback's parsed query.
 */
async function authorize(meta, {
  clientId, redirectUri, scope, resource, prompt, jar = new Jar(), login = 'alice', extra = {}, deny = false,
}) {
  const { verifier, challenge } = pkce();
  const state = randomBytes(16).toString('base64url');
  const q = new URLSearchParams({
    client_id: clientId, response_type: 'code', redirect_uri: redirectUri,
    code_challenge: challenge, code_challenge_method: 'S256', state, ...extra,
  });
  if (scope) q.set('scope', scope);
  if (resource) q.set('resource', resource);
  if (prompt) q.set('prompt', prompt);

  let url = `${meta.authorization_endpoint}?${q}`;
  let r = await http(url, { jar });
  const trail = [`GET ${new URL(url).pathname} -> ${r.status}`];
  for (let hops = 0; hops < 12; hops += 1) {
    if (r.status === 303 || r.status === 302) {
      const next = new URL(r.location, url).href;
      if (next.startsWith(redirectUri)) {
        const cb = Object.fromEntries(new URL(next).searchParams);
        return { ...cb, expectedState: state, verifier, trail, callbackUrl: next };
      }
      url = next;
      r = await http(url, { jar });
      trail.push(`GET ${new URL(url).pathname} -> ${r.status}`);
    } else if (r.status === 200 && /<form/.test(r.text)) {
      // Login page: hidden prompt=login + login + password; consent page:
      // hidden prompt=consent only. Both POST to the interaction URL.
      const action = new URL(/<form[^>]*action="([^"]+)"/.exec(r.text)[1].replace(/&amp;/g, '&'), url).href;
      const promptName = /name="prompt" value="([^"]+)"/.exec(r.text)[1];
      if (deny && promptName === 'consent') {
        // The user refuses: GET <interaction URL>/abort
        url = `${action}/abort`;
        r = await http(url, { jar });
        trail.push(`GET ${new URL(url).pathname} -> ${r.status}`);
        continue;
      }
      const form = promptName === 'login' ? { prompt: 'login', login, password: 'any' } : { prompt: promptName };
      url = action;
      r = await http(action, { method: 'POST', form, jar });
      trail.push(`POST ${new URL(action).pathname} (prompt=${promptName}) -> ${r.status}`);
    } else {
      throw new Error(`unexpected ${r.status} at ${url}: ${r.text.slice(0, 300)}\ntrail: ${trail.join(' | ')}`);
    }
  }
  throw new Error(`too many hops: ${trail.join(' | ')}`);
}

async function tokenRequest(meta, params, { auth } = {}) {
  const headers = { accept: 'application/json' };
  if (auth) headers.authorization = auth;
  return http(meta.token_endpoint, { method: 'POST', form: params, headers });
}

async function clientAssertion(client, aud, { usePem = true } = {}) {
  const key = usePem ? await importPKCS8(client.private_key_pem, client.alg) : await importJWK(client.private_jwk, client.alg);
  return new SignJWT({})
    .setProtectedHeader({ alg: client.alg, kid: client.private_jwk.kid })
    .setIssuer(client.client_id).setSubject(client.client_id).setAudience(aud)
    .setJti(randomUUID()).setIssuedAt().setExpirationTime('60s')
    .sign(key);
}

/** Minimal Streamable HTTP MCP client (initialize, initialized, tools/call). */
async function mcpSession(mcpUrl, token) {
  const base = {
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-06-18',
    authorization: `Bearer ${token}`,
  };
  let sessionId;
  let id = 0;
  const parse = (r) => {
    if (r.json) return r.json;
    const data = r.text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim());
    return data.length ? JSON.parse(data[data.length - 1]) : undefined;
  };
  const send = async (method, params, { notification = false, tokenOverride } = {}) => {
    const headers = { ...base };
    if (tokenOverride) headers.authorization = `Bearer ${tokenOverride}`;
    if (sessionId) headers['mcp-session-id'] = sessionId;
    const msg = { jsonrpc: '2.0', method, ...(params ? { params } : {}) };
    if (!notification) { id += 1; msg.id = id; }
    const r = await http(mcpUrl, { method: 'POST', headers, json: msg });
    return { ...r, rpc: r.status === 200 ? parse(r) : undefined };
  };
  const init = await send('initialize', {
    protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'smoke', version: '0' },
  });
  sessionId = init.headers.get('mcp-session-id');
  if (init.status === 200) await send('notifications/initialized', undefined, { notification: true });
  return {
    init,
    sessionId: () => sessionId,
    call: (name, args = {}, opts) => send('tools/call', { name, arguments: args }, opts),
    send,
  };
}

const textOf = (r) => r.rpc?.result?.content?.[0]?.text;

// =======================================================================================
const { child, env, stderr, stdoutLines } = await startServers();
if (VERBOSE) console.log(JSON.stringify({ ...env, clients: '…', cimd: { ...env.cimd, caCertPem: '…' } }, null, 2));
const REDIRECT = 'http://127.0.0.1:40000/callback';
let mainMeta;
let tenantMeta;
let userTokens; // from step 3

await step('0. start-up contract', async () => {
  for (const k of ['issuer', 'tenantIssuer', 'mcp', 'cimd', 'clients']) check(k in env, `JSON has ${k}`);
  check(/^http:\/\/127\.0\.0\.1:\d+$/.test(env.issuer), 'issuer form', env.issuer);
  check(/^http:\/\/127\.0\.0\.1:\d+\/tenant1$/.test(env.tenantIssuer), 'tenant issuer form', env.tenantIssuer);
  check(env.mcp.legacy === `${env.issuer}/legacy/mcp`, 'legacy MCP on the main AS origin');
  check(env.cimd.caCertPem.startsWith('-----BEGIN CERTIFICATE-----'), 'CA PEM');
  for (const k of ['public', 'basic', 'post', 'es256', 'rs256', 'ps256', 'eddsa', 'introspector']) check(env.clients[k]?.client_id, `client ${k}`);
  check(env.clients.es256.private_key_pem.startsWith('-----BEGIN PRIVATE KEY-----'), 'es256 PEM');
  check(env.clients.rs256.private_jwk.kty === 'RSA' && env.clients.rs256.private_jwk.d, 'rs256 private JWK');
});

await step('1. 401 challenges', async () => {
  const probe = (url) => http(url, {
    method: 'POST',
    headers: { accept: 'application/json, text/event-stream' },
    json: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 's', version: '0' } } },
  });
  let r = await probe(env.mcp.current);
  check(r.status === 401, 'current: 401');
  check(r.headers.get('www-authenticate') === `Bearer resource_metadata="${env.prm.current}", scope="mcp:read"`, 'current: challenge', r.headers.get('www-authenticate'));
  r = await probe(env.mcp.fallback);
  check(r.status === 401 && r.headers.get('www-authenticate') === 'Bearer scope="mcp:read"', 'fallback: challenge', r.headers.get('www-authenticate'));
  r = await probe(env.mcp.legacy);
  check(r.status === 401 && r.headers.get('www-authenticate') === 'Bearer', 'legacy: challenge', r.headers.get('www-authenticate'));
  const raw = await fetch(env.mcp.current, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
  check(raw.status === 401, 'malformed body without token -> still 401', raw.status);
  r = await http(env.mcp.current, { method: 'GET' });
  check(r.status === 401, 'GET /mcp without token -> 401');
  r = await http(env.mcp.current, { method: 'POST', headers: { authorization: 'Bearer not-a-jwt' }, json: {} });
  findings.invalidTokenChallenge = r.headers.get('www-authenticate');
  check(r.status === 401 && /^Bearer error="invalid_token", error_description="[^"]*", resource_metadata="/.test(findings.invalidTokenChallenge), 'current: invalid token challenge', findings.invalidTokenChallenge);
});

await step('2. protected resource metadata + AS metadata', async () => {
  const cur = new URL(env.mcp.current).origin;
  const fb = new URL(env.mcp.fallback).origin;
  let r = await http(env.prm.current);
  check(r.status === 200 && r.json.resource === env.mcp.current, 'current PRM resource');
  check(JSON.stringify(r.json.authorization_servers) === JSON.stringify([env.issuer]), 'current PRM AS');
  check(JSON.stringify(r.json.scopes_supported) === '["mcp:read","mcp:write","mcp:admin"]', 'current PRM scopes');
  check(JSON.stringify(r.json.bearer_methods_supported) === '["header"]', 'current PRM bearer methods');
  check((await http(`${cur}/.well-known/oauth-protected-resource`)).status === 404, 'current root PRM 404');
  check((await http(`${fb}/.well-known/oauth-protected-resource/mcp`)).status === 404, 'fallback path-aware PRM 404');
  r = await http(`${fb}/.well-known/oauth-protected-resource`);
  check(r.status === 200 && r.json.resource === env.mcp.fallback && r.json.authorization_servers[0] === env.tenantIssuer, 'fallback root PRM');
  check((await http(`${env.issuer}/.well-known/oauth-protected-resource`)).status === 404, 'legacy origin root PRM 404');
  check((await http(`${env.issuer}/.well-known/oauth-protected-resource/legacy/mcp`)).status === 404, 'legacy origin path-aware PRM 404');

  mainMeta = await discover(env.issuer);
  check(mainMeta.issuer === env.issuer, 'main AS issuer');
  check(JSON.stringify(mainMeta.code_challenge_methods_supported) === '["S256"]', 'S256 only');
  check(mainMeta.authorization_response_iss_parameter_supported === true, 'iss parameter supported');
  check(mainMeta.client_id_metadata_document_supported === true, 'CIMD supported');
  for (const s of ['openid', 'offline_access', 'mcp:read', 'mcp:write', 'mcp:admin']) check(mainMeta.scopes_supported.includes(s), `scopes_supported has ${s}`);
  for (const k of ['registration_endpoint', 'revocation_endpoint', 'introspection_endpoint']) check(!!mainMeta[k], `main AS ${k}`);
  for (const alg of ['ES256', 'RS256', 'PS256', 'EdDSA']) check(mainMeta.token_endpoint_auth_signing_alg_values_supported.includes(alg), `client auth alg ${alg}`);
  check(mainMeta.grant_types_supported.includes('client_credentials') && mainMeta.grant_types_supported.includes('refresh_token'), 'grant types');
  const oidc = await http(`${env.issuer}/.well-known/openid-configuration`);
  check(oidc.status === 200 && oidc.json.issuer === env.issuer, 'main AS openid-configuration too');
  findings.mainMetadata = mainMeta;
});

await step('3. authorization code + PKCE (mcpauth-public, loopback port 40000)', async () => {
  const cb = await authorize(mainMeta, {
    clientId: 'mcpauth-public', redirectUri: REDIRECT, scope: 'mcp:read offline_access', resource: env.mcp.current,
  });
  findings.authTrail = cb.trail;
  check(cb.callbackUrl.startsWith('http://127.0.0.1:40000/callback?'), 'redirected to the loopback port asked for', cb.callbackUrl);
  check(!!cb.code, 'code present', cb);
  check(cb.state === cb.expectedState, 'state echoed');
  check(cb.iss === env.issuer, 'iss in the authorization response', cb.iss);
  const r = await tokenRequest(mainMeta, {
    grant_type: 'authorization_code', code: cb.code, redirect_uri: REDIRECT, code_verifier: cb.verifier,
    client_id: 'mcpauth-public', resource: env.mcp.current,
  });
  check(r.status === 200, 'token exchange 200', r.text);
  findings.codeTokenResponse = { ...r.json, access_token: '…', refresh_token: r.json?.refresh_token ? '…' : undefined };
  const at = decodeJwt(r.json.access_token);
  findings.accessTokenClaims = at;
  check(at.aud === env.mcp.current, 'JWT aud = resource', at.aud);
  check(at.iss === env.issuer, 'JWT iss');
  check(at.scope === 'mcp:read', 'JWT scope mcp:read', at.scope);
  check(!!r.json.refresh_token, 'refresh token issued');
  check(r.json.token_type === 'Bearer' && r.json.expires_in === 3600, 'token_type/expires_in', r.json);
  userTokens = r.json;

  // without PKCE -> refused
  const noPkce = await http(`${mainMeta.authorization_endpoint}?${new URLSearchParams({
    client_id: 'mcpauth-public', response_type: 'code', redirect_uri: REDIRECT, scope: 'mcp:read', state: 'x',
  })}`);
  findings.noPkce = { status: noPkce.status, location: noPkce.location };
  check(noPkce.status === 303 && /error=invalid_request/.test(noPkce.location ?? ''), 'authorization without PKCE refused', noPkce.location);

  // offline_access survives only with prompt=consent; the token's scope is the
  // resource's scope either way.
  const pc = await authorize(mainMeta, {
    clientId: 'mcpauth-public', redirectUri: REDIRECT, scope: 'mcp:read offline_access', resource: env.mcp.current, prompt: 'consent',
  });
  const pcTok = await tokenRequest(mainMeta, {
    grant_type: 'authorization_code', code: pc.code, redirect_uri: REDIRECT, code_verifier: pc.verifier, client_id: 'mcpauth-public', resource: env.mcp.current,
  });
  findings.promptConsentOfflineScope = pcTok.json?.scope;
  check(pcTok.status === 200 && !!pcTok.json.refresh_token, 'prompt=consent + offline_access flow', pcTok.text);

  // the user refuses at the consent page
  const denied = await authorize(mainMeta, { clientId: 'mcpauth-public', redirectUri: REDIRECT, scope: 'mcp:read', resource: env.mcp.current, deny: true });
  findings.denied = { callback: denied.callbackUrl, trail: denied.trail };
  check(denied.error === 'access_denied' && denied.state === denied.expectedState && denied.iss === env.issuer && !denied.code, 'abort -> access_denied with state and iss', denied);

  // custom scheme redirect for the pre-registered native client
  const deep = await authorize(mainMeta, {
    clientId: 'mcpauth-public', redirectUri: 'mcpauth://oauth/callback', scope: 'mcp:read', resource: env.mcp.current,
  });
  check(deep.callbackUrl.startsWith('mcpauth://oauth/callback?code='), 'custom-scheme redirect works', deep.callbackUrl);
  const exchange = () => tokenRequest(mainMeta, {
    grant_type: 'authorization_code', code: deep.code, redirect_uri: 'mcpauth://oauth/callback', code_verifier: deep.verifier,
    client_id: 'mcpauth-public', resource: env.mcp.current,
  });
  const first = await exchange();
  check(first.status === 200 && !!first.json.refresh_token, 'custom-scheme code exchange', first.text);
  // Same code again -> invalid_grant, and oidc-provider then revokes the whole
  // grant: the refresh token from the first exchange is dead too.
  const again = await exchange();
  check(again.status === 400 && again.json.error === 'invalid_grant', 'code reuse -> invalid_grant', again.text);
  const rt = await tokenRequest(mainMeta, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token, client_id: 'mcpauth-public' });
  findings.refreshAfterCodeReuse = { status: rt.status, body: rt.json };
  check(rt.status === 400 && rt.json.error === 'invalid_grant', 'code reuse revoked the grant (its refresh token -> invalid_grant)', rt.text);
});

await step('4. MCP calls with the user token', async () => {
  const s = await mcpSession(env.mcp.current, userTokens.access_token);
  check(s.init.status === 200 && !!s.sessionId(), 'initialize 200 + session id', s.init.text);
  const who = await s.call('whoami');
  check(who.status === 200 && JSON.parse(textOf(who)).sub === 'alice', 'whoami returns sub', who.text);
  check(JSON.parse(textOf(who)).scope === 'mcp:read', 'whoami returns scope');
  const w = await s.call('write_note', { text: 'hi' });
  findings.insufficientScope = w.headers.get('www-authenticate');
  check(w.status === 403, 'write_note -> 403', w.status);
  check(findings.insufficientScope === `Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="${env.prm.current}"`, 'insufficient_scope challenge', findings.insufficientScope);
  // Token for "current" is refused by "fallback" (iss and aud differ).
  const other = await mcpSession(env.mcp.fallback, userTokens.access_token);
  check(other.init.status === 401 && /invalid_token/.test(other.init.headers.get('www-authenticate')), 'token for another resource -> 401 invalid_token', other.init.headers.get('www-authenticate'));
  const del = await http(env.mcp.current, { method: 'DELETE', headers: { authorization: `Bearer ${userTokens.access_token}`, 'mcp-session-id': s.sessionId(), 'mcp-protocol-version': '2025-06-18' } });
  check(del.status === 200, 'DELETE session 200', del.status);
});

await step('5. refresh rotation', async () => {
  const rt0 = userTokens.refresh_token;
  const r1 = await tokenRequest(mainMeta, {
    grant_type: 'refresh_token', refresh_token: rt0, client_id: 'mcpauth-public', resource: env.mcp.current,
  });
  check(r1.status === 200 && r1.json.refresh_token && r1.json.refresh_token !== rt0, 'refresh OK, rotated', r1.text);
  check(decodeJwt(r1.json.access_token).aud === env.mcp.current, 'refreshed AT aud');
  const rt1 = r1.json.refresh_token;

  // Without resource: useGrantedResource -> still a JWT for the granted resource.
  const r2 = await tokenRequest(mainMeta, { grant_type: 'refresh_token', refresh_token: rt1, client_id: 'mcpauth-public' });
  check(r2.status === 200 && decodeJwt(r2.json.access_token).aud === env.mcp.current, 'refresh without resource uses the granted one', r2.text);
  const rt2 = r2.json.refresh_token;

  // Wider scope than granted.
  const wide = await tokenRequest(mainMeta, {
    grant_type: 'refresh_token', refresh_token: rt2, client_id: 'mcpauth-public', resource: env.mcp.current, scope: 'mcp:read mcp:write',
  });
  findings.refreshWiderScope = { status: wide.status, body: wide.json };
  check(wide.status === 400 && wide.json.error === 'invalid_scope', 'wider scope on refresh -> invalid_scope', wide.text);
  // Is rt2 still usable after that refusal?
  const after = await tokenRequest(mainMeta, { grant_type: 'refresh_token', refresh_token: rt2, client_id: 'mcpauth-public', resource: env.mcp.current });
  findings.refreshAfterWideScopeError = after.status;
  check(after.status === 200, 'refresh token still valid after the invalid_scope refusal', after.text);
  const rt3 = after.json?.refresh_token;

  // Narrower scope is fine? (mcp:read only is all we have; ask for nothing extra)
  const reuse = await tokenRequest(mainMeta, { grant_type: 'refresh_token', refresh_token: rt0, client_id: 'mcpauth-public', resource: env.mcp.current });
  findings.refreshReuse = { status: reuse.status, body: reuse.json };
  check(reuse.status === 400 && reuse.json.error === 'invalid_grant', 'reuse of a rotated refresh token -> invalid_grant', reuse.text);
  const latest = await tokenRequest(mainMeta, { grant_type: 'refresh_token', refresh_token: rt3, client_id: 'mcpauth-public', resource: env.mcp.current });
  findings.latestAfterReuse = { status: latest.status, body: latest.json };
  check(latest.status === 400 && latest.json.error === 'invalid_grant', 'reuse detection revoked the whole grant (latest RT dead too)', latest.text);

  // Another resource than the granted one: invalid_target, but oidc-provider
  // has already rotated (consumed) the refresh token by then, and the new one
  // is never delivered -> the grant is lost.
  const cb = await authorize(mainMeta, { clientId: 'mcpauth-public', redirectUri: REDIRECT, scope: 'mcp:read mcp:write', resource: env.mcp.current });
  const wideGrant = (await tokenRequest(mainMeta, {
    grant_type: 'authorization_code', code: cb.code, redirect_uri: REDIRECT, code_verifier: cb.verifier, client_id: 'mcpauth-public', resource: env.mcp.current,
  })).json;
  check(wideGrant.scope === 'mcp:read mcp:write', 'granted mcp:read mcp:write', wideGrant.scope);
  // Narrower scope on refresh is fine; the new refresh token keeps the full grant.
  const narrow = await tokenRequest(mainMeta, {
    grant_type: 'refresh_token', refresh_token: wideGrant.refresh_token, client_id: 'mcpauth-public', resource: env.mcp.current, scope: 'mcp:read',
  });
  check(narrow.status === 200 && narrow.json.scope === 'mcp:read' && decodeJwt(narrow.json.access_token).scope === 'mcp:read', 'narrower scope on refresh -> 200, scope mcp:read', narrow.text);
  const full = await tokenRequest(mainMeta, {
    grant_type: 'refresh_token', refresh_token: narrow.json.refresh_token, client_id: 'mcpauth-public', resource: env.mcp.current,
  });
  check(full.status === 200 && full.json.scope === 'mcp:read mcp:write', 'next refresh without scope -> full grant again', full.text);
  const fresh = full.json;
  const otherRes = await tokenRequest(mainMeta, {
    grant_type: 'refresh_token', refresh_token: fresh.refresh_token, client_id: 'mcpauth-public', resource: env.mcp.legacy,
  });
  findings.refreshOtherResource = { status: otherRes.status, body: otherRes.json };
  check(otherRes.status === 400 && otherRes.json.error === 'invalid_target', 'refresh for a resource not granted -> invalid_target', otherRes.text);
  const burnt = await tokenRequest(mainMeta, {
    grant_type: 'refresh_token', refresh_token: fresh.refresh_token, client_id: 'mcpauth-public', resource: env.mcp.current,
  });
  findings.refreshAfterInvalidTarget = { status: burnt.status, body: burnt.json };
  check(burnt.status === 400 && burnt.json.error === 'invalid_grant', 'QUIRK: the refresh token is consumed by the invalid_target attempt', burnt.text);

  // The client whose grants cover every MCP server here (as.mjs,
  // issuerWideGrants): its refresh token serves another resource, and the
  // rotated one keeps serving the first.
  const sc = await authorize(mainMeta, { clientId: 'mcpauth-shared', redirectUri: REDIRECT, scope: 'mcp:read', resource: env.mcp.current });
  const shared = (await tokenRequest(mainMeta, {
    grant_type: 'authorization_code', code: sc.code, redirect_uri: REDIRECT, code_verifier: sc.verifier, client_id: 'mcpauth-shared', resource: env.mcp.current,
  })).json;
  check(decodeJwt(shared.access_token).aud === env.mcp.current, 'shared client: the code gives a token for the resource asked', shared);
  const across = await tokenRequest(mainMeta, {
    grant_type: 'refresh_token', refresh_token: shared.refresh_token, client_id: 'mcpauth-shared', resource: env.mcp.legacy,
  });
  check(across.status === 200 && decodeJwt(across.json.access_token).aud === env.mcp.legacy && across.json.refresh_token, 'shared client: refresh for another resource -> 200, aud that resource', across.text);
  const back = await tokenRequest(mainMeta, {
    grant_type: 'refresh_token', refresh_token: across.json.refresh_token, client_id: 'mcpauth-shared', resource: env.mcp.current,
  });
  check(back.status === 200 && decodeJwt(back.json.access_token).aud === env.mcp.current, 'shared client: the rotated refresh token serves the first resource', back.text);
});

let ccToken;
await step('6. client_credentials (basic, post, private_key_jwt ES256/RS256/PS256/EdDSA)', async () => {
  const params = { grant_type: 'client_credentials', resource: env.mcp.current, scope: 'mcp:read mcp:write' };
  const b = await tokenRequest(mainMeta, params, { auth: basic(env.clients.basic.client_id, env.clients.basic.client_secret) });
  check(b.status === 200 && decodeJwt(b.json.access_token).aud === env.mcp.current, 'basic', b.text);
  check(!b.json.refresh_token, 'no refresh token for client_credentials');
  findings.ccClaims = decodeJwt(b.json.access_token);
  findings.ccResponse = { ...b.json, access_token: '…' };
  ccToken = b.json.access_token;
  const p = await tokenRequest(mainMeta, { ...params, client_id: env.clients.post.client_id, client_secret: env.clients.post.client_secret });
  check(p.status === 200 && decodeJwt(p.json.access_token).aud === env.mcp.current, 'post', p.text);
  for (const [k, usePem, aud, alg] of [
    ['es256', true, env.issuer], ['rs256', false, mainMeta.token_endpoint], ['ps256', true, env.issuer],
    ['eddsa', false, env.issuer], ['eddsa', true, env.issuer], ['rs256', true, env.issuer, 'PS256'],
  ]) {
    const c = alg ? { ...env.clients[k], alg } : env.clients[k];
    const r = await tokenRequest(mainMeta, {
      ...params,
      client_id: c.client_id,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clientAssertion(c, aud, { usePem }),
    });
    check(r.status === 200 && decodeJwt(r.json.access_token).aud === env.mcp.current, `${k} private_key_jwt ${c.alg} ${usePem ? 'PEM' : 'JWK'} (aud ${aud === env.issuer ? 'issuer' : 'token endpoint'})`, r.text);
  }
  // wrong secret
  const bad = await tokenRequest(mainMeta, params, { auth: basic(env.clients.basic.client_id, 'wrong') });
  check(bad.status === 401 && bad.json.error === 'invalid_client', 'wrong secret -> 401 invalid_client', bad.text);
  // unknown resource
  const unk = await tokenRequest(mainMeta, { ...params, resource: 'http://127.0.0.1:1/nope' }, { auth: basic(env.clients.basic.client_id, env.clients.basic.client_secret) });
  findings.unknownResource = unk.json;
  check(unk.status === 400 && unk.json.error === 'invalid_target', 'unknown resource -> invalid_target', unk.text);
  // the mcp:write token can write
  const s = await mcpSession(env.mcp.current, ccToken);
  const w = await s.call('write_note', { text: 'x' });
  check(w.status === 200 && textOf(w) === 'saved', 'write_note with mcp:write -> saved', w.text);
  // a token without mcp:read
  const adm = await tokenRequest(mainMeta, { ...params, scope: 'mcp:admin' }, { auth: basic(env.clients.basic.client_id, env.clients.basic.client_secret) });
  const s2 = await mcpSession(env.mcp.current, adm.json.access_token);
  check(s2.init.status === 403 && s2.init.headers.get('www-authenticate') === `Bearer error="insufficient_scope", scope="mcp:read", resource_metadata="${env.prm.current}"`, 'no mcp:read -> 403 scope="mcp:read"', s2.init.headers.get('www-authenticate'));
});

await step('7. revocation + introspection', async () => {
  const intro = (token, hint) => http(mainMeta.introspection_endpoint, {
    method: 'POST',
    headers: { authorization: basic(env.clients.introspector.client_id, env.clients.introspector.client_secret), accept: 'application/json' },
    form: hint ? { token, token_type_hint: hint } : { token },
  });
  const cb = await authorize(mainMeta, { clientId: 'mcpauth-public', redirectUri: REDIRECT, scope: 'mcp:read', resource: env.mcp.current });
  const t = (await tokenRequest(mainMeta, {
    grant_type: 'authorization_code', code: cb.code, redirect_uri: REDIRECT, code_verifier: cb.verifier, client_id: 'mcpauth-public', resource: env.mcp.current,
  })).json;

  let r = await intro(t.refresh_token);
  findings.introspectRefreshActive = r.json;
  check(r.status === 200 && r.json.active === true && r.json.client_id === 'mcpauth-public', 'introspect RT (other client\'s) -> active:true', r.text);
  r = await intro(t.access_token);
  findings.introspectJwt = { status: r.status, body: r.json };
  check(r.status === 400 && r.json.error === 'unsupported_token_type', 'introspect JWT AT -> 400 unsupported_token_type', r.text);
  r = await intro(ccToken);
  check(r.status === 400 && r.json.error === 'unsupported_token_type', 'introspect client_credentials JWT -> unsupported_token_type', r.text);
  r = await intro('garbage-token');
  findings.introspectUnknown = r.json;
  check(r.status === 200 && r.json.active === false, 'introspect unknown -> active:false');

  // Another (confidential) client may not revoke it.
  r = await http(mainMeta.revocation_endpoint, {
    method: 'POST', headers: { authorization: basic(env.clients.basic.client_id, env.clients.basic.client_secret) }, form: { token: t.refresh_token },
  });
  findings.revokeOthersToken = { status: r.status, body: r.json };
  check(r.status === 400 && r.json.error === 'invalid_request', 'revoking another client\'s token -> 400 invalid_request', r.text);
  check((await intro(t.refresh_token)).json.active === true, '... and the token is still active');

  // Revocation by the owning public client.
  const revoke = (token, hint) => http(mainMeta.revocation_endpoint, {
    method: 'POST', headers: { accept: 'application/json' }, form: { token, ...(hint ? { token_type_hint: hint } : {}), client_id: 'mcpauth-public' },
  });
  r = await revoke(t.refresh_token, 'refresh_token');
  check(r.status === 200, 'revoke RT -> 200', r.text);
  r = await intro(t.refresh_token);
  findings.introspectRefreshRevoked = r.json;
  check(r.status === 200 && r.json.active === false && Object.keys(r.json).length === 1, 'introspect revoked RT -> exactly {"active":false}', r.text);
  r = await revoke(t.access_token, 'access_token');
  findings.revokeJwt = { status: r.status, body: r.json };
  check(r.status === 400 && r.json.error === 'unsupported_token_type', 'revoke JWT AT -> 400 unsupported_token_type', r.text);
  r = await revoke(t.refresh_token, 'refresh_token');
  check(r.status === 200, 'revoking an already revoked RT -> 200 (RFC 7009)', r.text);
  const refreshed = await tokenRequest(mainMeta, { grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: 'mcpauth-public' });
  check(refreshed.status === 400 && refreshed.json.error === 'invalid_grant', 'refresh with revoked RT -> invalid_grant', refreshed.text);
  // JWT AT still accepted by the MCP server (self-contained) until it expires.
  const s = await mcpSession(env.mcp.current, t.access_token);
  findings.jwtAfterRevocation = s.init.status;
  check(s.init.status === 200, 'JWT AT still works at the MCP server after its grant was revoked (stateless)');

  // Opaque access token: request without `resource` (plain OIDC, audience = userinfo)
  const basicAuth = basic(env.clients.basic.client_id, env.clients.basic.client_secret);
  const cb2 = await authorize(mainMeta, { clientId: 'mcpauth-basic', redirectUri: REDIRECT, scope: 'openid mcp:read' });
  const t2 = await tokenRequest(mainMeta, { grant_type: 'authorization_code', code: cb2.code, redirect_uri: REDIRECT, code_verifier: cb2.verifier }, { auth: basicAuth });
  check(t2.status === 200 && t2.json.access_token.split('.').length !== 3, 'no resource -> opaque access token', t2.text);
  findings.opaqueTokenResponse = { ...t2.json, access_token: '…', refresh_token: '…', id_token: '…' };
  r = await intro(t2.json.access_token);
  findings.introspectOpaqueActive = r.json;
  check(r.json?.active === true && r.json.token_type === 'Bearer', 'introspect opaque AT -> active:true', r.text);
  // confidential client refresh (client_secret_basic)
  const t3 = await tokenRequest(mainMeta, { grant_type: 'refresh_token', refresh_token: t2.json.refresh_token }, { auth: basicAuth });
  check(t3.status === 200 && !!t3.json.refresh_token, 'refresh with client_secret_basic', t3.text);
  r = await intro(t2.json.refresh_token);
  check(r.json?.active === false, 'rotated-away RT -> active:false');
  r = await intro(t2.json.access_token);
  findings.oldAtAfterRotation = r.json?.active;
  r = await http(mainMeta.revocation_endpoint, { method: 'POST', headers: { authorization: basicAuth }, form: { token: t3.json.access_token } });
  check(r.status === 200, 'revoke opaque AT -> 200');
  r = await intro(t3.json.access_token);
  check(r.json?.active === false, 'introspect revoked opaque AT -> active:false', r.text);
  r = await intro(t3.json.refresh_token);
  findings.rtAfterAtRevocation = r.json?.active;
  check(r.json?.active === false, 'revoking an access token also revokes the refresh token of its grant', r.text);
  const mcpOpaque = await mcpSession(env.mcp.current, t2.json.access_token);
  check(mcpOpaque.init.status === 401, 'opaque AT refused by the MCP server');
});

await step('8. Client ID Metadata Document client', async () => {
  const doc = await fetch(env.cimd.clientId).catch((err) => err);
  check(doc instanceof Error, 'CIMD URL is not trusted by default (test CA)');
  const port = 51234;
  const redirect = `http://127.0.0.1:${port}/callback`;
  const cb = await authorize(mainMeta, { clientId: env.cimd.clientId, redirectUri: redirect, scope: 'mcp:read offline_access', resource: env.mcp.current });
  check(!!cb.code && cb.iss === env.issuer, 'CIMD: code + iss', cb);
  const r = await tokenRequest(mainMeta, {
    grant_type: 'authorization_code', code: cb.code, redirect_uri: redirect, code_verifier: cb.verifier, client_id: env.cimd.clientId, resource: env.mcp.current,
  });
  check(r.status === 200 && decodeJwt(r.json.access_token).client_id === env.cimd.clientId, 'CIMD: token exchange', r.text);
  check(!!r.json.refresh_token, 'CIMD: refresh token');
  const s = await mcpSession(env.mcp.current, r.json.access_token);
  const who = await s.call('whoami');
  check(JSON.parse(textOf(who) ?? '{}').client_id === env.cimd.clientId, 'CIMD: whoami client_id');
  // a redirect_uri not in the document
  const bad = await http(`${mainMeta.authorization_endpoint}?${new URLSearchParams({
    client_id: env.cimd.clientId, response_type: 'code', redirect_uri: 'http://example.com/cb', code_challenge: pkce().challenge, code_challenge_method: 'S256', scope: 'mcp:read',
  })}`);
  findings.cimdBadRedirect = bad.status;
  check(bad.status === 400, 'CIMD: foreign redirect_uri rejected (400 page, no redirect)', bad.status);
  // tenant AS trusts it too
  const t = await discover(env.tenantIssuer);
  const cb2 = await authorize(t, { clientId: env.cimd.clientId, redirectUri: redirect, scope: 'mcp:read', resource: env.mcp.fallback });
  check(!!cb2.code && cb2.iss === env.tenantIssuer, 'CIMD on the tenant AS', cb2);
});

await step('9. tenant AS discovery + flow against the fallback MCP server', async () => {
  const o = new URL(env.tenantIssuer).origin;
  for (const p of ['/.well-known/oauth-authorization-server/tenant1', '/.well-known/openid-configuration/tenant1',
    '/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    check((await http(`${o}${p}`)).status === 404, `tenant origin ${p} -> 404`);
  }
  const r = await http(`${env.tenantIssuer}/.well-known/openid-configuration`);
  check(r.status === 200 && r.json.issuer === env.tenantIssuer, 'tenant /tenant1/.well-known/openid-configuration');
  tenantMeta = r.json;
  for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'registration_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
    check(tenantMeta[k]?.startsWith(`${env.tenantIssuer}/`), `tenant ${k} under /tenant1`, tenantMeta[k]);
  }
  const oas = await http(`${env.tenantIssuer}/.well-known/oauth-authorization-server`);
  findings.tenantOasUnderPath = oas.status;
  const cb = await authorize(tenantMeta, { clientId: 'mcpauth-public', redirectUri: 'http://localhost:43210/callback', scope: 'mcp:read', resource: env.mcp.fallback });
  check(cb.iss === env.tenantIssuer && !!cb.code, 'tenant code + iss', cb);
  findings.tenantTrail = cb.trail;
  const t = await tokenRequest(tenantMeta, {
    grant_type: 'authorization_code', code: cb.code, redirect_uri: 'http://localhost:43210/callback', code_verifier: cb.verifier, client_id: 'mcpauth-public', resource: env.mcp.fallback,
  });
  check(t.status === 200, 'tenant token exchange', t.text);
  const claims = decodeJwt(t.json.access_token);
  check(claims.iss === env.tenantIssuer && claims.aud === env.mcp.fallback, 'tenant JWT iss/aud');
  const s = await mcpSession(env.mcp.fallback, t.json.access_token);
  const who = await s.call('whoami');
  check(who.status === 200 && JSON.parse(textOf(who)).sub === 'alice', 'fallback whoami');
  const w = await s.call('write_note');
  check(w.status === 403 && w.headers.get('www-authenticate') === 'Bearer error="insufficient_scope", scope="mcp:read mcp:write"', 'fallback insufficient_scope (no resource_metadata)', w.headers.get('www-authenticate'));
  // tenant client secrets are the same
  const cc = await tokenRequest(tenantMeta, { grant_type: 'client_credentials', resource: env.mcp.fallback, scope: 'mcp:read' }, { auth: basic(env.clients.basic.client_id, env.clients.basic.client_secret) });
  check(cc.status === 200, 'tenant client_credentials with the same secret');
  const es = await tokenRequest(tenantMeta, {
    grant_type: 'client_credentials', resource: env.mcp.fallback, scope: 'mcp:read', client_id: env.clients.es256.client_id,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await clientAssertion(env.clients.es256, env.tenantIssuer),
  });
  check(es.status === 200, 'tenant private_key_jwt with aud = tenant issuer', es.text);
});

await step('10. dynamic client registration', async () => {
  const r = await http(mainMeta.registration_endpoint, {
    method: 'POST',
    json: {
      client_name: 'MCP Auth (smoke)', application_type: 'native', token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1:45678/callback'], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
    },
  });
  findings.dcrResponse = { status: r.status, body: { ...r.json, registration_access_token: r.json?.registration_access_token ? '…' : undefined } };
  check(r.status === 201 && !!r.json.client_id && !r.json.client_secret, 'DCR 201, public client', r.text);
  // Dynamically registered clients match redirect URIs exactly (as.mjs): the
  // port they registered works, another one is refused at the authorization endpoint.
  const redirect = 'http://127.0.0.1:45678/callback';
  const otherPort = await authorize(mainMeta, {
    clientId: r.json.client_id, redirectUri: 'http://127.0.0.1:45679/callback', scope: 'mcp:read', resource: env.mcp.legacy,
  }).then(() => 'accepted', (e) => String(e.message));
  check(otherPort.includes('400'), 'DCR client: a loopback port it did not register is refused', otherPort);
  const cb = await authorize(mainMeta, { clientId: r.json.client_id, redirectUri: redirect, scope: 'mcp:read offline_access', resource: env.mcp.legacy });
  const t = await tokenRequest(mainMeta, {
    grant_type: 'authorization_code', code: cb.code, redirect_uri: redirect, code_verifier: cb.verifier, client_id: r.json.client_id, resource: env.mcp.legacy,
  });
  check(t.status === 200 && !!t.json.refresh_token, 'DCR client: tokens for the legacy resource', t.text);
  const s = await mcpSession(env.mcp.legacy, t.json.access_token);
  const who = await s.call('whoami');
  check(who.status === 200 && JSON.parse(textOf(who)).client_id === r.json.client_id, 'legacy whoami with DCR client');
  const w = await s.call('write_note');
  check(w.status === 403 && w.headers.get('www-authenticate') === 'Bearer error="insufficient_scope", scope="mcp:read mcp:write"', 'legacy insufficient_scope', w.headers.get('www-authenticate'));
  // registration errors
  const bad = await http(mainMeta.registration_endpoint, { method: 'POST', json: { redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none' } });
  findings.dcrWebLoopback = { status: bad.status, body: bad.json };
  const bad2 = await http(mainMeta.registration_endpoint, { method: 'POST', json: { application_type: 'native', redirect_uris: ['https://example.com/cb'], token_endpoint_auth_method: 'none' } });
  findings.dcrNativeHttps = { status: bad2.status, body: bad2.json ? { error: bad2.json.error, error_description: bad2.json.error_description } : undefined };
});

// 11: enterprise-managed authorization, the IdP and ID-JAGs (smoke-idjag.mjs).
await idjagChecks({
  env, step, check, http, findings, mainMeta, basic, tokenRequest, authorize, discover, mcpSession, textOf,
});

// 12-19: the MCP servers of every protocol generation (smoke-gen.mjs).
await genChecks({
  env, step, check, http, findings, mainMeta, basic, tokenRequest,
});

check(stdoutLines.length === 1, 'exactly one stdout line so far', stdoutLines);

await step('20. options: --delay-ms, --access-token-ttl; stdin close stops the servers', async () => {
  const second = await startServers(['--delay-ms', '150', '--access-token-ttl', '7']);
  const meta = await discover(second.env.issuer);
  const t0 = Date.now();
  const r = await tokenRequest(meta, { grant_type: 'client_credentials', resource: second.env.mcp.current, scope: 'mcp:read' }, { auth: basic(second.env.clients.basic.client_id, second.env.clients.basic.client_secret) });
  const took = Date.now() - t0;
  check(took >= 150, `delay applied (${took} ms)`);
  check(r.json.expires_in === 7 && decodeJwt(r.json.access_token).exp - decodeJwt(r.json.access_token).iat === 7, 'access token ttl 7 s', r.json);
  const t1 = Date.now();
  await http(second.env.mcp.current);
  check(Date.now() - t1 >= 150, 'delay applied on MCP server too');
  const cb = await authorize(meta, { clientId: second.env.cimd.clientId, redirectUri: 'http://127.0.0.1:40001/callback', scope: 'mcp:read', resource: second.env.mcp.current });
  check(!!cb.code, 'CIMD flow works with the delay too');
  const idpMeta = await discover(second.env.idpIssuer);
  const icb = await authorize(idpMeta, { clientId: 'mcpauth-idp', redirectUri: 'http://127.0.0.1:40001/callback', scope: 'openid' });
  const it = await tokenRequest(idpMeta, { grant_type: 'authorization_code', code: icb.code, redirect_uri: 'http://127.0.0.1:40001/callback', code_verifier: icb.verifier, client_id: 'mcpauth-idp' });
  const idClaims = it.json?.id_token ? decodeJwt(it.json.id_token) : {};
  check(idClaims.exp - idClaims.iat === 7, 'the IdP\'s ID tokens live as long as access tokens (7 s)', it.text);
  const exited = new Promise((resolve) => second.child.once('exit', (code, sig) => resolve({ code, sig })));
  second.child.stdin.end();
  const res = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 5000))]);
  check(res !== 'timeout' && res.code === 0, 'child exits 0 when its stdin closes', res);
});

// =======================================================================================
const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve({ code, sig })));
child.kill('SIGTERM');
const res = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 5000))]);
check(res !== 'timeout' && res.code === 0, 'child exits 0 on SIGTERM', res);
// The Python (and Rust) servers go with it: their ports stop answering.
for (const key of ['py', 'rmcp'].filter((k) => env.mcp[k])) {
  let gone = false;
  for (let i = 0; i < 40 && !gone; i += 1) {
    gone = await fetch(env.mcp[key]).then(() => false, () => true);
    if (!gone) await new Promise((resolve) => { setTimeout(resolve, 100); });
  }
  check(gone, `${key} server stopped with start.mjs`);
}
check(!/server_error/.test(stderr.join('')), 'no server_error in the server logs', stderr.join('').match(/.*server_error.*/g));

if (VERBOSE || process.env.SMOKE_FINDINGS) console.log(JSON.stringify(findings, null, 2));
console.log(`\n${passes} checks passed, ${failures} failed`);
if (failures) {
  if (!VERBOSE) console.log(`--- server stderr ---\n${stderr.join('')}`);
  process.exit(1);
}
