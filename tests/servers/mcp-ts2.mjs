// The SDK 2.x server (`@modelcontextprotocol/server` 2.4 +
// `@modelcontextprotocol/node`): protocol 2026-07-28 only, stateless.
// `createMcpHandler(factory, { legacy: 'reject' })` answers every 2025-era
// request with -32022 (unsupported protocol version); the SDK itself checks
// the MCP-Protocol-Version / Mcp-Method / Mcp-Name / Mcp-Param-* headers
// against the body. Authentication is the caller's middleware in front.

import express from 'express';
import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  McpServer, ResourceTemplate, createMcpHandler, fromJsonSchema, inputRequired, inputResponse,
} from '@modelcontextprotocol/server';
import { z } from 'zod';

import { logger } from './log.mjs';
import {
  ELICIT_PARAMS, SAMPLE_PARAMS, UNICODE_TEXT, abortableWait, elicitAnswer, sampleAnswer, sendProgress, text, whoamiText,
} from './tools.mjs';

/**
 * @param {import('express').Express} app
 * @param {object} o
 * @param {string} o.path
 * @param {string} o.name               log prefix and serverInfo.name suffix
 * @param {Function[]} [o.auth]         middleware in front (before the body is parsed)
 */
export function mountTs2(app, { path, name, auth = [] }) {
  const log = logger(name);
  const counter = { aborted: 0 }; // the factory runs per request: state lives here

  /** Run once per HTTP request; nothing on the instance outlives it. */
  function buildServer() {
    const s = new McpServer({ name: `mcpauth-test-${name}`, version: '2.0.0' }, { capabilities: { logging: {} } });

    s.registerTool('echo', { description: 'Returns its text', inputSchema: z.object({ text: z.string() }) },
      async (args) => text(args.text));

    s.registerTool('whoami', { description: 'Subject, scope and client of the access token' },
      async (ctx) => text(whoamiText(ctx.http?.authInfo)));

    s.registerTool('progress', {
      description: 'Sends `steps` progress notifications 50 ms apart (with a progressToken)',
      inputSchema: z.object({ steps: z.number().int().min(0).default(3) }),
    }, async ({ steps }, ctx) => {
      await sendProgress(steps, ctx.mcpReq._meta?.progressToken, (n) => ctx.mcpReq.notify(n));
      return text(`done ${steps}`);
    });

    // On 2026-07-28 a client cancels by closing the request's stream; the
    // SDK aborts ctx.mcpReq.signal then.
    s.registerTool('slow', {
      description: 'Waits `ms`; stops when cancelled (counted, see `cancelled`)',
      inputSchema: z.object({ ms: z.number().int().min(0).default(30000) }),
    }, async ({ ms }, ctx) => {
      await abortableWait(ms, ctx.mcpReq.signal, counter);
      return text('slow done');
    });

    s.registerTool('cancelled', { description: 'How many `slow` calls were aborted on this server' },
      async () => text(JSON.stringify({ aborted: counter.aborted })));

    // MRTR: no server-to-client requests on 2026-07-28. The first call
    // returns input_required; the client re-sends the tools/call with
    // inputResponses and the handler runs again.
    s.registerTool('elicit', { description: 'Asks the user for a name (input_required)' }, async (ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, 'name');
      if (answer.kind === 'elicit') return text(elicitAnswer(answer.action, answer.content));
      return inputRequired({ inputRequests: { name: inputRequired.elicit(ELICIT_PARAMS) } });
    });

    s.registerTool('sample', { description: 'Asks the client\'s model to say hi (input_required)' }, async (ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, 'llm');
      if (answer.kind === 'sampling') return text(sampleAnswer(answer.result));
      return inputRequired({ inputRequests: { llm: inputRequired.createMessage(SAMPLE_PARAMS) } });
    });

    // Out of any request there is only the handler's bus: it reaches every
    // open subscriptions/listen stream that asked for toolsListChanged.
    // (s.sendToolListChanged() on this per-request instance reaches nobody,
    // and 2026-07-28 has no out-of-request log messages.)
    s.registerTool('notify_later', { description: 'Publishes tools/list_changed 100 ms later' }, async () => {
      setTimeout(() => handler.notify.toolsChanged(), 100);
      return text('scheduled');
    });

    s.registerTool('unicode', { description: 'Long non-ASCII text' }, async () => text(UNICODE_TEXT));

    // SEP-2243: `region` is mirrored into an Mcp-Param-Region request header;
    // the SDK refuses a call whose header is missing or differs.
    s.registerTool('route', {
      description: 'Answers `routed <region>` (region travels in Mcp-Param-Region)',
      inputSchema: fromJsonSchema({
        type: 'object',
        properties: { region: { type: 'string', 'x-mcp-header': 'Region' }, q: { type: 'string' } },
        required: ['region'],
      }),
    }, async ({ region }) => text(`routed ${region}`));

    // An invalid declaration (x-mcp-header on an object). The SDK registers
    // and lists it anyway, with a console.warn at every tools/list; a
    // conforming client must drop it from what it shows.
    s.registerTool('bad_header', {
      description: 'Declares x-mcp-header on an object property (invalid: must not be listed by clients)',
      inputSchema: fromJsonSchema({
        type: 'object',
        properties: { filter: { type: 'object', 'x-mcp-header': 'Filter' } },
        required: ['filter'],
      }),
    }, async () => text('should not be listed'));

    s.registerResource('greeting', 'test://greeting', { mimeType: 'text/plain' },
      async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'hello resource' }] }));
    s.registerResource('item', new ResourceTemplate('test://items/{id}', { list: undefined }), {},
      async (uri, { id }) => ({ contents: [{ uri: uri.href, text: `item ${id}` }] }));
    s.registerPrompt('greet', { description: 'Greets someone', argsSchema: z.object({ name: z.string() }) },
      ({ name: who }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Hello ${who}` } }] }));
    return s;
  }

  const handler = createMcpHandler(buildServer, {
    legacy: 'reject',
    onerror: (err) => log('handler:', err.message),
  });
  // toNodeHandler forwards req.auth as authInfo; the parsed body is passed
  // on because express.json() has consumed the stream.
  const node = toNodeHandler(handler);
  app.all(path, ...auth, express.json({ limit: '1mb' }), (req, res) => node(req, res, req.body));

  return { close: () => handler.close() };
}
