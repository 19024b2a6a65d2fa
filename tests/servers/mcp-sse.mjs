// The legacy HTTP+SSE transport (protocol 2024-11-05) of SDK 1.x:
// `GET <ssePath>` opens the stream, whose first event (`endpoint`) names
// `<messagesPath>?sessionId=…`; the client POSTs every message there (answered
// 202) and everything the server sends, responses included, arrives on the
// GET stream. No event ids, no resumption.

import express from 'express';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';

import { logger } from './log.mjs';

/**
 * @param {import('express').Express} app
 * @param {object} o
 * @param {string} o.ssePath                e.g. '/sse/sse' (what a user enters)
 * @param {string} o.messagesPath           e.g. '/sse/messages'
 * @param {string} o.name                   log prefix
 * @param {() => import('@modelcontextprotocol/sdk/server/mcp.js').McpServer} o.buildServer
 * @param {Function[]} [o.auth]             middleware in front of the GET and the POSTs
 */
export function mountSse(app, {
  ssePath, messagesPath, name, buildServer, auth = [],
}) {
  const log = logger(name);
  /** @type {Map<string, SSEServerTransport>} */
  const sessions = new Map();

  app.get(ssePath, ...auth, async (req, res) => {
    try {
      // The endpoint event carries a relative URL: messagesPath?sessionId=<uuid>.
      const transport = new SSEServerTransport(messagesPath, res);
      sessions.set(transport.sessionId, transport);
      transport.onclose = () => sessions.delete(transport.sessionId);
      res.on('close', () => sessions.delete(transport.sessionId));
      await buildServer().connect(transport); // start() writes the SSE headers and the endpoint event
    } catch (err) {
      log('error opening SSE stream', err);
      if (!res.headersSent) res.status(500).send('Internal server error');
    }
  });

  // express.json() has read the body already, so it is handed over as the
  // third argument (the transport would otherwise wait for a consumed stream).
  app.post(messagesPath, ...auth, express.json({ limit: '1mb' }), async (req, res) => {
    const transport = sessions.get(String(req.query.sessionId ?? ''));
    if (!transport) return res.status(404).send('Session not found');
    try {
      await transport.handlePostMessage(req, res, req.body);
    } catch (err) {
      log('error handling message', err);
      if (!res.headersSent) res.status(500).send('Internal server error');
    }
    return undefined;
  });

  return {
    async close() {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(all.map((t) => t.close()));
    },
  };
}
