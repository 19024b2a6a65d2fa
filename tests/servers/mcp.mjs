// MCP servers (Streamable HTTP, official TypeScript SDK) protected by Bearer
// JWT access tokens they validate themselves against the AS's JWKS (auth.mjs).

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

import { bearerAuth } from './auth.mjs';
import { dpopAuth } from './dpop.mjs';
import { mountStreamable } from './mcp-ts1.mjs';

/**
 * Mounts an MCP endpoint on `app` at `path`.
 *
 * @param {import('express').Express} app
 * @param {object} o
 * @param {string} o.path          e.g. '/mcp' or '/legacy/mcp'
 * @param {string} o.resource      exact resource URL = required JWT `aud`
 * @param {string} o.issuer        required JWT `iss`
 * @param {string} o.jwksUri       the AS's jwks_uri
 * @param {'current'|'fallback'|'legacy'} o.style   challenge style (see README)
 * @param {string} [o.prmUrl]      resource_metadata URL put in challenges ("current" only)
 * @param {number} [o.fetchTimeoutMs]
 * @param {boolean} [o.dpop]       take DPoP-bound tokens only (dpop.mjs), challenges of the "current" style
 */
export function mountMcp(app, {
  path, resource, issuer, jwksUri, style, prmUrl, fetchTimeoutMs = 10_000, dpop = false,
}) {
  const auth = (dpop ? dpopAuth : bearerAuth)({
    resource, issuer, jwksUri, style, prmUrl, fetchTimeoutMs, name: `mcp:${dpop ? 'dpop' : style}`,
  });
  const { challenge, authenticate } = auth;

  // Tool-level scope, checked after the body is parsed: look into the
  // JSON-RPC message (single or batch) before the transport sees it.
  function checkToolScope(req, res, next) {
    const messages = Array.isArray(req.body) ? req.body : [req.body];
    const wantsWrite = messages.some((msg) => msg?.method === 'tools/call' && msg.params?.name === 'write_note');
    if (wantsWrite && !req.auth.scopes.includes('mcp:write')) {
      return challenge(res, 403, { error: 'insufficient_scope', scope: 'mcp:read mcp:write', description: 'mcp:write required' });
    }
    // A misbehaving tool: it asks for a scope no authorization server here grants,
    // so a client that steps up never satisfies it and must give up.
    const wantsUnobtainable = messages.some((msg) => msg?.method === 'tools/call' && msg.params?.name === 'unobtainable');
    if (wantsUnobtainable) {
      return challenge(res, 403, { error: 'insufficient_scope', scope: 'mcp:read mcp:unobtainable', description: 'mcp:unobtainable required' });
    }
    return next();
  }

  // --- MCP server per session -------------------------------------------
  function buildServer() {
    const server = new McpServer({ name: `mcpauth-test-${style}`, version: '1.0.0' });
    server.registerTool('whoami', {
      description: 'Returns the subject and scope of the access token (needs mcp:read)',
    }, async (extra) => {
      const info = extra.authInfo?.extra ?? {};
      return {
        content: [{
          type: 'text',
          text: JSON.stringify({ sub: info.sub, scope: info.scope, client_id: extra.authInfo?.clientId }),
        }],
      };
    });
    server.registerTool('write_note', {
      description: 'Pretends to save a note (needs mcp:write)',
      inputSchema: { text: z.string().optional() },
    }, async (_args, extra) => {
      if (!extra.authInfo?.scopes.includes('mcp:write')) { // unreachable: checked at HTTP level
        return { isError: true, content: [{ type: 'text', text: 'mcp:write required' }] };
      }
      return { content: [{ type: 'text', text: 'saved' }] };
    });
    server.registerTool('unobtainable', {
      description: 'Always answers 403 insufficient_scope for a scope nobody grants (a misbehaving server)',
    }, async () => ({ isError: true, content: [{ type: 'text', text: 'unreachable' }] }));
    return server;
  }

  // Standard session handling, as in the SDK's simpleStreamableHttp example;
  // authenticate runs before the body parser so that any unauthenticated
  // request, even with a malformed body, gets the 401 challenge.
  const endpoint = mountStreamable(app, {
    path, name: `mcp:${style}`, buildServer, beforeBody: [authenticate], afterBody: [checkToolScope], resumable: false,
  });

  return { close: () => endpoint.close(), stats: auth.stats };
}
