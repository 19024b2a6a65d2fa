// The SDK 1.x (`@modelcontextprotocol/sdk` 1.32) servers of the generations
// origin: one McpServer per session with the contract's tool set, behind a
// stateful StreamableHTTPServerTransport (`ts1`, `lazy`, `open`), or behind
// the legacy HTTP+SSE transport (`sse`, mcp-sse.mjs). Authentication is the
// caller's middleware; nothing here looks at tokens.

import { randomUUID } from 'node:crypto';

import express from 'express';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

import { logger } from './log.mjs';
import {
  ELICIT_PARAMS, SAMPLE_PARAMS, UNICODE_TEXT, abortableWait, elicitAnswer, sampleAnswer, sendProgress, sleep, text, whoamiText,
} from './tools.mjs';

/**
 * Event store for resumability (SEP-1699 polling, Last-Event-ID). The SDK's
 * example InMemoryEventStore is not used: it sorts ids with localeCompare, so
 * events of the same millisecond replay out of order, and it parses the
 * stream id out of the event id with split('_'), which breaks on the
 * standalone GET stream's id `_GET_stream`. Ids here are a counter; the
 * priming event (stored as `{}`) is never replayed.
 */
class OrderedEventStore {
  #events = [];

  async storeEvent(streamId, message) {
    const id = String(this.#events.length);
    this.#events.push({ id, streamId, message });
    return id;
  }

  async replayEventsAfter(lastEventId, { send }) {
    const at = this.#events.findIndex((e) => e.id === lastEventId);
    if (at < 0) return '';
    const { streamId } = this.#events[at];
    for (const e of this.#events.slice(at + 1)) {
      if (e.streamId === streamId && e.message.jsonrpc) await send(e.id, e.message);
    }
    return streamId;
  }
}

/**
 * A fresh SDK 1.x McpServer with the contract's tools, resources and prompt.
 *
 * @param {object} o
 * @param {string} o.name                  serverInfo.name
 * @param {{aborted: number}} o.counter    `slow` aborts of this server (shared by its sessions)
 * @param {boolean} [o.whoami]             servers with auth
 * @param {boolean} [o.writeNote]          ts1, lazy (the mcp:write check is HTTP-level, see writeScope)
 * @param {boolean} [o.poll]               ts1: SEP-1699 early stream close
 */
export function buildV1Server({ name, counter, whoami = false, writeNote = false, poll = false }) {
  // logging: notifications/message (needed by sendLoggingMessage). McpServer
  // itself declares tools/resources/prompts with listChanged: true.
  const mcp = new McpServer({ name, version: '1.0.0' }, { capabilities: { logging: {} } });

  mcp.registerTool('echo', { description: 'Returns its text', inputSchema: { text: z.string() } },
    async (args) => text(args.text));

  if (whoami) {
    mcp.registerTool('whoami', { description: 'Subject, scope and client of the access token' },
      async (extra) => text(whoamiText(extra.authInfo)));
  }

  mcp.registerTool('progress', {
    description: 'Sends `steps` progress notifications 50 ms apart (with a progressToken)',
    inputSchema: { steps: z.number().int().min(0).default(3) },
  }, async ({ steps }, extra) => {
    await sendProgress(steps, extra._meta?.progressToken, (n) => extra.sendNotification(n));
    return text(`done ${steps}`);
  });

  mcp.registerTool('slow', {
    description: 'Waits `ms`; stops when cancelled (counted, see `cancelled`)',
    inputSchema: { ms: z.number().int().min(0).default(30000) },
  }, async ({ ms }, extra) => {
    await abortableWait(ms, extra.signal, counter);
    return text('slow done');
  });

  mcp.registerTool('cancelled', { description: 'How many `slow` calls were aborted on this server' },
    async () => text(JSON.stringify({ aborted: counter.aborted })));

  // relatedRequestId puts the server request on this tools/call's own SSE
  // stream; without it the SDK sends it to the GET stream (dropped if none is
  // open) and the tool hangs until the request timeout.
  mcp.registerTool('elicit', { description: 'Asks the user for a name (form elicitation)' }, async (extra) => {
    const r = await mcp.server.elicitInput({ mode: 'form', ...ELICIT_PARAMS }, { relatedRequestId: extra.requestId });
    return text(elicitAnswer(r.action, r.content));
  });

  // What the conformance suite's 2025-11-25 server does: no relatedRequestId,
  // so the SDK sends the request on the session's GET stream, and drops it if
  // that stream is not open yet. A client must open it before it calls.
  mcp.registerTool('elicit_outside', { description: 'Asks for a name on the GET stream, outside the call' }, async () => {
    const r = await mcp.server.elicitInput({ mode: 'form', ...ELICIT_PARAMS });
    return text(elicitAnswer(r.action, r.content));
  });

  mcp.registerTool('sample', { description: 'Asks the client\'s model to say hi (sampling)' }, async (extra) => {
    const r = await mcp.server.createMessage(SAMPLE_PARAMS, { relatedRequestId: extra.requestId });
    return text(sampleAnswer(r));
  });

  // After the call has returned there is no related request: both
  // notifications go to the session's standalone GET stream (or the SSE stream).
  mcp.registerTool('notify_later', { description: 'Sends tools/list_changed and a log message 100 ms later' }, async () => {
    setTimeout(() => {
      mcp.sendToolListChanged();
      mcp.server.sendLoggingMessage({ level: 'info', data: 'out-of-band hello' }).catch(() => {});
    }, 100);
    return text('scheduled');
  });

  mcp.registerTool('unicode', { description: 'Long non-ASCII text' }, async () => text(UNICODE_TEXT));

  if (writeNote) {
    mcp.registerTool('write_note', {
      description: 'Pretends to save a note (needs mcp:write)',
      inputSchema: { text: z.string().optional() },
    }, async () => text('saved'));
  }

  // SEP-1699: the server ends this request's SSE stream early; the client
  // resumes with GET + Last-Event-ID and gets the result from the event store.
  // closeSSEStream exists only with an event store and protocol >= 2025-11-25.
  if (poll) {
    mcp.registerTool('poll', { description: 'Closes its SSE stream, answers after the client reconnects' }, async (extra) => {
      await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: 'before close' } });
      extra.closeSSEStream?.();
      await sleep(300);
      return text('after reconnect');
    });
  }

  mcp.registerResource('greeting', 'test://greeting', { mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'hello resource' }] }));
  mcp.registerResource('item', new ResourceTemplate('test://items/{id}', { list: undefined }), {},
    async (uri, { id }) => ({ contents: [{ uri: uri.href, text: `item ${id}` }] }));
  mcp.registerPrompt('greet', { description: 'Greets someone', argsSchema: { name: z.string() } },
    ({ name: who }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Hello ${who}` } }] }));
  return mcp;
}

const rpcError = (res, status, code, message) => res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });

/**
 * Stateful Streamable HTTP endpoint (sessions, GET stream, DELETE), as in the
 * SDK's simpleStreamableHttp example, plus an event store and
 * `retryInterval: 200` (the priming event's `retry:`).
 *
 * A session whose client calls itself `slow-get-stream` in `initialize` has
 * its GET stream opened 500 ms late, as a loaded server's would be: the
 * window in which a server request sent outside a call has no stream to go on.
 *
 * @param {import('express').Express} app
 * @param {object} o
 * @param {string} o.path
 * @param {string} o.name                     log prefix
 * @param {() => McpServer} o.buildServer
 * @param {Function[]} [o.beforeBody]         middleware before the body is parsed (POST, GET, DELETE)
 * @param {Function[]} [o.afterBody]          middleware after express.json() (POST only)
 * @param {boolean} [o.resumable]             the event store and `retry:` (SEP-1699); off for
 *                                            the first servers (current, fallback, legacy), as before
 * @returns {{ expire(): Promise<number>, close(): Promise<void> }}
 */
export function mountStreamable(app, {
  path, name, buildServer, beforeBody = [], afterBody = [], resumable = true,
}) {
  const log = logger(name);
  /** @type {Map<string, StreamableHTTPServerTransport>} */
  const sessions = new Map();
  /** Session id → its McpServer (for the client's name). */
  const servers = new Map();

  app.post(path, ...beforeBody, express.json({ limit: '1mb' }), ...afterBody, async (req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    try {
      let transport = sessionId ? sessions.get(sessionId) : undefined;
      if (!transport) {
        if (sessionId) return rpcError(res, 404, -32001, 'Session not found');
        if (!isInitializeRequest(req.body)) return rpcError(res, 400, -32000, 'Bad Request: No valid session ID provided');
        const mcp = buildServer();
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          ...(resumable ? { eventStore: new OrderedEventStore(), retryInterval: 200 } : {}),
          onsessioninitialized: (sid) => { sessions.set(sid, transport); servers.set(sid, mcp); },
        });
        transport.onclose = () => {
          if (transport.sessionId) {
            sessions.delete(transport.sessionId);
            servers.delete(transport.sessionId);
          }
        };
        await mcp.connect(transport);
      }
      await transport.handleRequest(req, res, req.body);
    } catch (err) {
      log('error handling MCP request', err);
      if (!res.headersSent) rpcError(res, 500, -32603, 'Internal server error');
    }
    return undefined;
  });

  // GET: the standalone SSE stream, or a resumption with Last-Event-ID.
  // DELETE: ends the session.
  const sessionRequest = async (req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    if (!sessionId) return res.status(400).send('Missing session ID');
    const transport = sessions.get(sessionId);
    if (!transport) return rpcError(res, 404, -32001, 'Session not found');
    try {
      if (req.method === 'GET' && servers.get(sessionId)?.server.getClientVersion()?.name === 'slow-get-stream') {
        await sleep(500);
      }
      await transport.handleRequest(req, res);
    } catch (err) {
      log('error handling MCP request', err);
      if (!res.headersSent) res.status(500).send('Internal server error');
    }
    return undefined;
  };
  app.get(path, ...beforeBody, sessionRequest);
  app.delete(path, ...beforeBody, sessionRequest);

  const closeAll = async () => {
    const all = [...sessions.values()];
    sessions.clear();
    servers.clear();
    await Promise.allSettled(all.map((t) => t.close()));
    return all.length;
  };
  return { expire: closeAll, close: closeAll };
}

/**
 * `write_note` needs mcp:write, checked at HTTP level before the transport
 * sees the message (403 insufficient_scope, as the `current` server does).
 * Runs after authentication, which set req.auth for any tools/call.
 */
export const writeScope = (challenge) => (req, res, next) => {
  const messages = Array.isArray(req.body) ? req.body : [req.body];
  const wantsWrite = messages.some((msg) => msg?.method === 'tools/call' && msg.params?.name === 'write_note');
  if (wantsWrite && !req.auth?.scopes.includes('mcp:write')) {
    return challenge(res, 403, { error: 'insufficient_scope', scope: 'mcp:read mcp:write', description: 'mcp:write required' });
  }
  return next();
};
