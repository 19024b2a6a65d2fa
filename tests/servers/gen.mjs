// The generations origin: MCP servers of every SDK generation in this
// process, side by side on one HTTP server (fixed port 4405):
//
//   /ts1/mcp   SDK 1.x, stateful Streamable HTTP, JWT on everything
//   /sse/sse   SDK 1.x legacy HTTP+SSE (POSTs to /sse/messages), JWT on both
//   /ts2/mcp   SDK 2.x, 2026-07-28 only, JWT on everything
//   /lazy/mcp  SDK 1.x, JWT only for tools/call
//   /open/mcp  SDK 1.x, no auth at all, no PRM
//   /moving/mcp SDK 2.x, 2026-07-28 only, JWT on everything, from the
//              authorization server its PRM names: the main AS until
//              POST /moving/__test/authorization-server {"issuer": "<tenant>"}
//              moves it (SEP-2352), after which only tenant tokens pass
//
// plus a path-aware PRM for each authenticated one and the test hook
// POST /ts1/__test/expire-sessions. Tokens come from the main AS.

import express from 'express';

import { bearerAuth } from './auth.mjs';
import { buildV1Server, mountStreamable, writeScope } from './mcp-ts1.mjs';
import { mountSse } from './mcp-sse.mjs';
import { mountTs2 } from './mcp-ts2.mjs';

/** Path of each server's URL (= its resource), by key. */
export const GEN_PATHS = {
  ts1: '/ts1/mcp', sse: '/sse/sse', ts2: '/ts2/mcp', lazy: '/lazy/mcp', open: '/open/mcp', moving: '/moving/mcp',
};
const SSE_MESSAGES = '/sse/messages';

/** Which server of this origin a request is for (its request log name), or undefined. */
export function genServerOf(path) {
  const key = path.split('/')[1];
  return key in GEN_PATHS ? key : undefined;
}

/** True for the requests that reach an MCP endpoint of this origin. */
export const isGenMcpPath = (path) => Object.values(GEN_PATHS).includes(path) || path === SSE_MESSAGES;

const prmDocument = (resource, as) => ({
  resource,
  authorization_servers: [as],
  scopes_supported: ['mcp:read', 'mcp:write', 'mcp:admin'],
  bearer_methods_supported: ['header'],
});

/**
 * @param {import('express').Express} app
 * @param {object} o
 * @param {string} o.origin           http://127.0.0.1:P of this server
 * @param {string} o.issuer           main AS
 * @param {string} o.tenantIssuer     the tenant AS (where /moving/mcp can move)
 * @param {number} o.fetchTimeoutMs   JWKS fetch timeout
 * @returns {{ mcp: Record<string,string>, prm: Record<string,string>, close(): Promise<void> }}
 */
export function mountGenerations(app, {
  origin, issuer, tenantIssuer, fetchTimeoutMs,
}) {
  const mcp = Object.fromEntries(Object.entries(GEN_PATHS).map(([k, p]) => [k, `${origin}${p}`]));
  const prm = {};
  const auth = {};
  for (const key of ['ts1', 'sse', 'ts2', 'lazy']) {
    prm[key] = `${origin}/.well-known/oauth-protected-resource${GEN_PATHS[key]}`;
    app.get(`/.well-known/oauth-protected-resource${GEN_PATHS[key]}`, (req, res) => res.json(prmDocument(mcp[key], issuer)));
    auth[key] = bearerAuth({
      resource: mcp[key], issuer, jwksUri: `${issuer}/jwks`, style: 'current', prmUrl: prm[key], fetchTimeoutMs, name: key,
    });
  }
  const counters = Object.fromEntries(Object.keys(GEN_PATHS).map((k) => [k, { aborted: 0 }]));
  const server = (key, features) => () => buildV1Server({ name: `mcpauth-test-${key}`, counter: counters[key], ...features });

  // ts1: the token is checked before the body is parsed (so a malformed body
  // still gets the challenge), then write_note's mcp:write.
  const ts1 = mountStreamable(app, {
    path: GEN_PATHS.ts1,
    name: 'ts1',
    buildServer: server('ts1', { whoami: true, writeNote: true, poll: true }),
    beforeBody: [auth.ts1.authenticate],
    afterBody: [writeScope(auth.ts1.challenge)],
  });

  const sse = mountSse(app, {
    ssePath: GEN_PATHS.sse,
    messagesPath: SSE_MESSAGES,
    name: 'sse',
    buildServer: server('sse', { whoami: true }),
    auth: [auth.sse.authenticate],
  });

  const ts2 = mountTs2(app, { path: GEN_PATHS.ts2, name: 'ts2', auth: [auth.ts2.authenticate] });

  // lazy: a server that only protects what costs something. Everything but
  // tools/call passes without a token (a token sent anyway is not looked at);
  // tools/call needs a valid JWT with mcp:read, write_note also mcp:write.
  const lazyAuth = (req, res, next) => {
    const messages = Array.isArray(req.body) ? req.body : [req.body];
    if (!messages.some((msg) => msg?.method === 'tools/call')) return next();
    return auth.lazy.authenticate(req, res, next);
  };
  const lazy = mountStreamable(app, {
    path: GEN_PATHS.lazy,
    name: 'lazy',
    buildServer: server('lazy', { whoami: true, writeNote: true }),
    afterBody: [lazyAuth, writeScope(auth.lazy.challenge)],
  });

  // moving: its PRM names one authorization server at a time, and only that
  // one's tokens pass; the hook moves it (the SEP-2352 migration).
  let movingIssuer = issuer;
  prm.moving = `${origin}/.well-known/oauth-protected-resource${GEN_PATHS.moving}`;
  app.get(`/.well-known/oauth-protected-resource${GEN_PATHS.moving}`, (req, res) => res.json(prmDocument(mcp.moving, movingIssuer)));
  const movingAuth = Object.fromEntries([issuer, tenantIssuer].map((iss) => [iss, bearerAuth({
    resource: mcp.moving, issuer: iss, jwksUri: `${iss}/jwks`, style: 'current', prmUrl: prm.moving, fetchTimeoutMs, name: 'moving',
  })]));
  const moving = mountTs2(app, {
    path: GEN_PATHS.moving, name: 'moving', auth: [(req, res, next) => movingAuth[movingIssuer].authenticate(req, res, next)],
  });
  app.post('/moving/__test/authorization-server', express.json(), (req, res) => {
    const wanted = req.body?.issuer;
    if (!(wanted in movingAuth)) return res.status(400).json({ error: `issuer must be one of ${Object.keys(movingAuth).join(', ')}` });
    movingIssuer = wanted;
    return res.json({ issuer: movingIssuer });
  });

  // open: no token, no challenge, no PRM (the well-known URLs are express 404s).
  const open = mountStreamable(app, { path: GEN_PATHS.open, name: 'open', buildServer: server('open', {}) });

  // Test hook: forget every session of ts1 and lazy, so that the next request
  // with an old Mcp-Session-Id gets 404 Session not found.
  app.post('/ts1/__test/expire-sessions', async (req, res) => {
    const expired = (await ts1.expire()) + (await lazy.expire());
    res.json({ expired });
  });

  return {
    mcp,
    prm,
    async close() {
      await Promise.allSettled([ts1, sse, ts2, lazy, open, moving].map((m) => m.close()));
    },
  };
}
