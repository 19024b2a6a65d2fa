// DPoP (RFC 9449) for the `dpop` MCP endpoint: an MCP server that takes only
// DPoP-bound access tokens, checks every proof the way RFC 9449 §4.3 and §7
// say a resource server does, and asks for its own nonce (§9). It shares the
// token checks of auth.mjs (the AS's JWKS, iss, aud, typ at+jwt) and adds the
// binding: the token's `cnf.jkt` is the thumbprint of the proof's key.

import { createHash, randomBytes } from 'node:crypto';

import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';

import { authInfo, remoteJwks, verifyAccessToken } from './auth.mjs';
import { logger } from './log.mjs';

const quote = (v) => `"${String(v).replace(/[\\"]/g, '\\$&')}"`;
const DPOP_RE = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i;
const IAT_WINDOW_S = 300;
// Nonces stay good for the last NONCES issued: the proxy may have several
// requests out when a new one is handed out.
const NONCES = 16;

/**
 * Challenges and the authenticate middleware of a DPoP-only endpoint.
 * Same contract as bearerAuth's "current" style (auth.mjs), with the `DPoP`
 * scheme. Counters for the tests: `stats(jkt?)` → {accepted, refused: {reason: n}},
 * of every request, or of those whose proof was signed by the key `jkt`.
 */
export function dpopAuth({ resource, issuer, jwksUri, prmUrl, fetchTimeoutMs = 10_000, name }) {
  const log = logger(name);
  const jwks = remoteJwks(jwksUri, fetchTimeoutMs);
  const nonces = [];
  const issueNonce = () => {
    const n = randomBytes(16).toString('base64url');
    nonces.push(n);
    if (nonces.length > NONCES) nonces.shift();
    return n;
  };
  issueNonce();
  const seenJti = new Map(); // jti -> expiry (ms)
  const counters = { accepted: 0, refused: {} };
  const byKey = new Map(); // jkt -> counters of the proofs that key signed
  const countersOf = (jkt) => {
    if (!byKey.has(jkt)) byKey.set(jkt, { accepted: 0, refused: {} });
    return byKey.get(jkt);
  };

  function challenge(res, status, { error, description, scope = 'mcp:read', nonce } = {}) {
    const pairs = [['algs', 'ES256']];
    if (error) pairs.push(['error', error]);
    if (description && error !== 'insufficient_scope') pairs.push(['error_description', description]);
    pairs.push(['resource_metadata', prmUrl], ['scope', scope]);
    if (nonce) res.set('DPoP-Nonce', nonce);
    res.status(status)
      .set('WWW-Authenticate', `DPoP ${pairs.map(([k, v]) => `${k}=${quote(v)}`).join(', ')}`)
      .json({ error: error ?? 'unauthorized', error_description: description ?? 'DPoP-bound token required' });
  }

  const refuse = (res, reason, detail, jkt) => {
    for (const c of jkt ? [counters, countersOf(jkt)] : [counters]) c.refused[reason] = (c.refused[reason] ?? 0) + 1;
    log('token or proof refused:', reason, detail ?? '');
    // reason: use_dpop_nonce (with the current nonce), invalid_dpop_proof or invalid_token.
    challenge(res, 401, { error: reason, description: detail ?? reason, nonce: reason === 'use_dpop_nonce' ? nonces.at(-1) : undefined });
  };

  async function checkProof(req, token) {
    const header = req.headers.dpop;
    if (typeof header !== 'string' || !header || header.includes(',')) throw Object.assign(new Error('exactly one DPoP header is required'), { reason: 'invalid_dpop_proof' });
    const protectedHeader = decodeProtectedHeader(header);
    if (protectedHeader.typ !== 'dpop+jwt') throw Object.assign(new Error('typ must be dpop+jwt'), { reason: 'invalid_dpop_proof' });
    if (protectedHeader.alg !== 'ES256') throw Object.assign(new Error('alg must be ES256'), { reason: 'invalid_dpop_proof' });
    const jwk = protectedHeader.jwk;
    if (!jwk || jwk.d !== undefined) throw Object.assign(new Error('the proof needs a public jwk'), { reason: 'invalid_dpop_proof' });
    const jkt = await calculateJwkThumbprint(jwk, 'sha256');
    const bad = (m) => Object.assign(new Error(m), { reason: 'invalid_dpop_proof', jkt });
    const { payload } = await jwtVerify(header, await importJWK(jwk, 'ES256'), { typ: 'dpop+jwt', algorithms: ['ES256'] });
    const url = new URL(req.originalUrl, resource);
    const htu = `${url.origin}${url.pathname}`;
    if (typeof payload.jti !== 'string' || payload.jti.length < 8) throw bad('jti missing');
    if (payload.htm !== req.method) throw bad(`htm ${payload.htm} is not ${req.method}`);
    if (payload.htu !== htu) throw bad(`htu ${payload.htu} is not ${htu}`);
    if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > IAT_WINDOW_S) throw bad('iat outside the window');
    const ath = createHash('sha256').update(token, 'ascii').digest('base64url');
    if (payload.ath !== ath) throw bad('ath does not match the token');
    if (!nonces.includes(payload.nonce)) throw Object.assign(new Error(payload.nonce ? 'stale nonce' : 'nonce required'), { reason: 'use_dpop_nonce', jkt });
    const now = Date.now();
    for (const [jti, until] of seenJti) if (until < now) seenJti.delete(jti);
    if (seenJti.has(payload.jti)) throw bad('proof replayed (jti seen before)');
    seenJti.set(payload.jti, now + 2 * IAT_WINDOW_S * 1000);
    return jkt;
  }

  async function authenticate(req, res, next) {
    const authorization = req.headers.authorization ?? '';
    if (!authorization) return challenge(res, 401);
    const token = DPOP_RE.exec(authorization)?.[1];
    if (!token) return refuse(res, 'invalid_token', 'this server takes DPoP-bound tokens with the DPoP scheme only');
    let jkt;
    try {
      jkt = await checkProof(req, token);
    } catch (err) {
      return refuse(res, err.reason ?? 'invalid_dpop_proof', err.message, err.jkt);
    }
    let payload;
    try {
      payload = await verifyAccessToken(token, { jwks, issuer, audience: resource });
    } catch (err) {
      return refuse(res, 'invalid_token', `token rejected: ${err.code ?? err.message}`, jkt);
    }
    if (payload.cnf?.jkt !== jkt) return refuse(res, 'invalid_token', 'the token is not bound to the proof key', jkt);
    const scopes = new Set(String(payload.scope ?? '').split(' ').filter(Boolean));
    if (!scopes.has('mcp:read')) return challenge(res, 403, { error: 'insufficient_scope', scope: 'mcp:read' });
    counters.accepted += 1;
    countersOf(jkt).accepted += 1;
    res.set('DPoP-Nonce', issueNonce()); // RFC 9449 §9: a new nonce on a success
    req.auth = authInfo(token, payload, scopes, resource, { jkt });
    return next();
  }

  const stats = (jkt) => structuredClone(jkt ? countersOf(jkt) : counters);
  return { challenge, authenticate, stats };
}
