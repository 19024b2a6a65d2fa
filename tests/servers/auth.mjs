// Bearer JWT checks shared by every MCP server in this process, and the
// `POST /__test/verify` endpoint that servers in other processes (Python,
// Rust) call instead of validating tokens themselves, so that every server
// accepts and refuses exactly the same tokens.

import express from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';

import { logger } from './log.mjs';

const quote = (v) => `"${String(v).replace(/[\\"]/g, '\\$&')}"`;

/** Builds `Bearer k="v", ...` from ordered [key, value] pairs (undefined values skipped). */
function bearer(pairs) {
  const params = pairs.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${quote(v)}`);
  return params.length ? `Bearer ${params.join(', ')}` : 'Bearer';
}

const BEARER_RE = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The token of an `Authorization: Bearer …` header, or undefined. */
export const bearerToken = (req) => BEARER_RE.exec(req.headers.authorization ?? '')?.[1];

/**
 * RFC 9068 access token validation as every MCP server here does it: the AS's
 * JWKS, `typ` at+jwt (an ID token is refused), exact `iss` and `aud`, no clock
 * tolerance. Resolves to the payload; rejects with jose's error (its `code`
 * says why).
 */
export async function verifyAccessToken(token, { jwks, issuer, audience }) {
  const { payload } = await jwtVerify(token, jwks, { issuer, audience, typ: 'at+jwt' });
  return payload;
}

/**
 * What an authenticated request carries on as `req.auth`: `extra.authInfo`
 * (SDK 1.x) / `ctx.http.authInfo` (2.x) in tool handlers. `more` adds to `extra`.
 */
export function authInfo(token, payload, scopes, resource, more = {}) {
  return {
    token,
    clientId: payload.client_id,
    scopes: [...scopes],
    expiresAt: payload.exp,
    resource: new URL(resource),
    extra: { sub: payload.sub, scope: payload.scope, aud: payload.aud, ...more },
  };
}

export const remoteJwks = (jwksUri, fetchTimeoutMs = 10_000) => createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: fetchTimeoutMs });

/**
 * Challenges and the authenticate middleware of one protected MCP endpoint.
 *
 * @param {object} o
 * @param {string} o.resource      exact resource URL = required JWT `aud`
 * @param {string} o.issuer        required JWT `iss`
 * @param {string} o.jwksUri       the AS's jwks_uri
 * @param {'current'|'fallback'|'legacy'} o.style   challenge style (see README)
 * @param {string} [o.prmUrl]      resource_metadata URL put in challenges ("current" only)
 * @param {number} [o.fetchTimeoutMs]
 * @param {string} o.name          log prefix
 */
export function bearerAuth({
  resource, issuer, jwksUri, style, prmUrl, fetchTimeoutMs = 10_000, name,
}) {
  const log = logger(name);
  const jwks = remoteJwks(jwksUri, fetchTimeoutMs);

  // current : Bearer resource_metadata="<PRM>", scope="mcp:read"
  // fallback: Bearer scope="mcp:read"                (no resource_metadata)
  // legacy  : Bearer                                 (nothing at all)
  // A presented-but-rejected token adds error="invalid_token" and an
  // error_description in front (RFC 6750 §3.1); 403s carry
  // error="insufficient_scope" and the scope needed.
  function challenge(res, status, { error, description, scope = 'mcp:read' } = {}) {
    let pairs;
    if (error === 'insufficient_scope') {
      pairs = [['error', error], ['scope', scope]];
      if (style === 'current') pairs.push(['resource_metadata', prmUrl]);
    } else {
      pairs = [['error', error], ['error_description', description]];
      if (style === 'current') pairs.push(['resource_metadata', prmUrl], ['scope', scope]);
      if (style === 'fallback') pairs.push(['scope', scope]);
    }
    res.status(status)
      .set('WWW-Authenticate', bearer(pairs))
      .json({ error: error ?? 'unauthorized', error_description: description ?? 'Bearer token required' });
  }

  async function authenticate(req, res, next) {
    const token = bearerToken(req);
    if (!token) return challenge(res, 401);

    let payload;
    try {
      payload = await verifyAccessToken(token, { jwks, issuer, audience: resource });
    } catch (err) {
      log('token rejected:', err.code ?? err.name, err.message);
      return challenge(res, 401, { error: 'invalid_token', description: `token rejected: ${err.code ?? err.message}` });
    }

    const scopes = new Set(String(payload.scope ?? '').split(' ').filter(Boolean));
    if (!scopes.has('mcp:read')) {
      return challenge(res, 403, { error: 'insufficient_scope', scope: 'mcp:read', description: 'mcp:read required' });
    }

    req.auth = authInfo(token, payload, scopes, resource);
    return next();
  }

  return { challenge, authenticate };
}

/**
 * `POST /__test/verify` for servers in other processes: body
 * `{"token", "audience"}` → 200 `{sub, scope, client_id, exp}` when the token
 * is valid for that audience (the checks of verifyAccessToken), else 401
 * `{"error":"invalid_token", "error_description"}`. Scopes are the caller's
 * business.
 */
export function mountVerify(app, { path, issuer, jwksUri, fetchTimeoutMs }) {
  const log = logger('verify');
  const jwks = remoteJwks(jwksUri, fetchTimeoutMs);
  app.post(path, express.json(), async (req, res) => {
    const { token, audience } = req.body ?? {};
    if (typeof token !== 'string' || typeof audience !== 'string') {
      return res.status(400).json({ error: 'invalid_request', error_description: 'body must be {"token": string, "audience": string}' });
    }
    try {
      const p = await verifyAccessToken(token, { jwks, issuer, audience });
      return res.json({ sub: p.sub, scope: p.scope ?? '', client_id: p.client_id, exp: p.exp });
    } catch (err) {
      log(`token rejected for ${audience}:`, err.code ?? err.name, err.message);
      return res.status(401).json({ error: 'invalid_token', error_description: `token rejected: ${err.code ?? err.message}` });
    }
  });
}
