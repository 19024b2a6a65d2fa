// Smoke checks of the MCP servers of every protocol generation (gen.mjs,
// py_server.py, the rmcp binary), run by smoke.mjs with its harness. Plain
// HTTP throughout, as the Rust tests speak it: per server the 401 challenge,
// the PRM, initialize (2025) or server/discover (2026-07-28) with a
// client_credentials token for exactly that resource, and one tool call; plus
// the few behaviours the proxy tests rely on (lazy/open auth, the
// x-mcp-header checks, the session-expiry hook, the request log fields,
// /__test/verify).

const ACCEPT = 'application/json, text/event-stream';
const MODERN = '2026-07-28';
const INIT_PARAMS = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'smoke', version: '0' } };

/** The last JSON-RPC message of a JSON or SSE response body. */
function rpcOf(r) {
  if (r.json) return r.json;
  const data = r.text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).filter(Boolean);
  return data.length ? JSON.parse(data[data.length - 1]) : undefined;
}

/** A 2026-07-28 request: the `_meta` envelope in the body and the standard headers. */
function modernRequest(method, params = {}, { id = 1, capabilities = {} } = {}) {
  const headers = { accept: ACCEPT, 'mcp-protocol-version': MODERN, 'mcp-method': method };
  if (method === 'tools/call' || method === 'prompts/get') headers['mcp-name'] = params.name;
  if (method === 'resources/read') headers['mcp-name'] = params.uri;
  const _meta = {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientInfo': { name: 'smoke', version: '0' },
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  };
  return { headers, json: { jsonrpc: '2.0', id, method, params: { ...params, _meta } } };
}

/** Reads an SSE response incrementally; `next(pred)` waits for a matching event's data. */
function sseReader(res) {
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  const events = [];
  let buffer = '';
  let wake = () => {};
  (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ done: true }));
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: *(.*)$/m.exec(block)?.[1] ?? 'message';
        const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        events.push({ event, data });
        wake();
      }
    }
  })();
  return {
    async next(pred, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const at = events.findIndex(pred);
        if (at >= 0) return events.splice(at, 1)[0];
        if (Date.now() > deadline) throw new Error(`no matching SSE event within ${timeoutMs} ms`);
        await new Promise((resolve) => { wake = resolve; setTimeout(resolve, 50); });
      }
    },
    close: () => reader.cancel().catch(() => {}),
  };
}

export async function genChecks({
  env, step, check, http, findings, mainMeta, basic, tokenRequest,
}) {
  const ccToken = async (resource, scope = 'mcp:read') => {
    const r = await tokenRequest(mainMeta, { grant_type: 'client_credentials', resource, scope }, { auth: basic(env.clients.basic.client_id, env.clients.basic.client_secret) });
    if (r.status !== 200) throw new Error(`client_credentials for ${resource}: ${r.status} ${r.text}`);
    return r.json.access_token;
  };
  const bearer = (t) => ({ authorization: `Bearer ${t}` });
  const textOf = (r) => rpcOf(r)?.result?.content?.[0]?.text;
  const post = (url, json, headers = {}) => http(url, { method: 'POST', headers: { accept: ACCEPT, ...headers }, json });
  const legacyCall = (url, token, sessionId, name, args = {}, id = 2) => post(url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }, {
    ...(token ? bearer(token) : {}), 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25',
  });
  const initialize = async (url, token) => {
    const r = await post(url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }, token ? bearer(token) : {});
    const sessionId = r.headers.get('mcp-session-id');
    if (sessionId) {
      await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, {
        ...(token ? bearer(token) : {}), 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25',
      });
    }
    return { r, sessionId };
  };
  const modern = (url, token, method, params, extraHeaders = {}, options = {}) => {
    const { headers, json } = modernRequest(method, params, options);
    return http(url, { method: 'POST', headers: { ...headers, ...bearer(token), ...extraHeaders }, json });
  };
  const challengeOf = (key) => `Bearer resource_metadata="${env.prm[key]}", scope="mcp:read"`;
  // The Python SDK re-parses the issuer as a URL in its PRM model and
  // writes it with a trailing slash (`http://127.0.0.1:P/`): kept as it is.
  const prmOk = async (key, as = env.issuer) => {
    const r = await http(env.prm[key]);
    check(r.status === 200 && r.json.resource === env.mcp[key] && r.json.authorization_servers?.[0] === as, `${key}: PRM names its resource and the main AS`, r.text);
    return r.json;
  };

  await step('12. generations: start-up line', async () => {
    const origin = new URL(env.mcp.ts1).origin;
    for (const [key, path] of [['ts1', '/ts1/mcp'], ['sse', '/sse/sse'], ['ts2', '/ts2/mcp'], ['lazy', '/lazy/mcp'], ['open', '/open/mcp']]) {
      check(env.mcp[key] === `${origin}${path}`, `mcp.${key} on the generations origin`, env.mcp[key]);
    }
    check(env.prm.ts1 === `${origin}/.well-known/oauth-protected-resource/ts1/mcp` && !env.prm.open, 'prm.ts1 path-aware, no prm.open', env.prm);
    for (const key of ['py', 'rmcp']) {
      check(!!env.mcp[key] !== !!env.missing?.[key], `${key}: either in mcp or in missing`, { mcp: env.mcp[key], missing: env.missing?.[key] });
    }
    check(!!env.mcp.py, 'py is running (the venv exists: scripts/setup.sh made it)', env.missing?.py);
    if (env.missing?.rmcp) check(/cargo build -p mcpauth-test-rmcp/.test(env.missing.rmcp), 'missing.rmcp says what to run', env.missing.rmcp);
    findings.missing = env.missing;
  });

  await step('13. ts1 (SDK 1.x, stateful): challenge, PRM, session, tools, expiry hook', async () => {
    let r = await post(env.mcp.ts1, { jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS });
    check(r.status === 401 && r.headers.get('www-authenticate') === challengeOf('ts1'), 'ts1: 401 + challenge', r.headers.get('www-authenticate'));
    await prmOk('ts1');
    const token = await ccToken(env.mcp.ts1);
    const s = await initialize(env.mcp.ts1, token);
    check(s.r.status === 200 && !!s.sessionId && rpcOf(s.r)?.result?.protocolVersion === '2025-11-25', 'ts1: initialize 2025-11-25 + session', s.r.text.slice(0, 300));
    check(/^retry: 200$/m.test(s.r.text), 'ts1: priming event with retry: 200', s.r.text.slice(0, 200));
    r = await legacyCall(env.mcp.ts1, token, s.sessionId, 'echo', { text: 'héllo' });
    check(textOf(r) === 'héllo', 'ts1: echo', r.text.slice(0, 300));
    r = await legacyCall(env.mcp.ts1, token, s.sessionId, 'write_note', {}, 3);
    check(r.status === 403 && r.headers.get('www-authenticate') === `Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="${env.prm.ts1}"`, 'ts1: write_note without mcp:write -> 403', r.headers.get('www-authenticate'));
    const other = await initialize(env.mcp.ts1, await ccToken(env.mcp.ts2));
    check(other.r.status === 401 && /invalid_token/.test(other.r.headers.get('www-authenticate')), 'ts1: a token for ts2 -> 401 invalid_token');

    r = await http(`${new URL(env.mcp.ts1).origin}/ts1/__test/expire-sessions`, { method: 'POST' });
    check(r.status === 200 && r.json.expired >= 1, 'expire-sessions answers {"expired": n}', r.text);
    r = await legacyCall(env.mcp.ts1, token, s.sessionId, 'echo', { text: 'x' }, 4);
    check(r.status === 404 && rpcOf(r)?.error?.message === 'Session not found', 'after expiry: the old session id -> 404 Session not found', r.text);
  });

  await step('14. sse (SDK 1.x HTTP+SSE, 2024-11-05)', async () => {
    let r = await http(env.mcp.sse);
    check(r.status === 401 && r.headers.get('www-authenticate') === challengeOf('sse'), 'sse: GET without token -> 401 + challenge', r.headers.get('www-authenticate'));
    await prmOk('sse');
    const token = await ccToken(env.mcp.sse);
    const res = await fetch(env.mcp.sse, { headers: { ...bearer(token), accept: 'text/event-stream' } });
    check(res.status === 200 && /text\/event-stream/.test(res.headers.get('content-type')), 'sse: GET with token -> event stream', res.status);
    const events = sseReader(res);
    try {
      const endpoint = await events.next((e) => e.event === 'endpoint');
      check(/^\/sse\/messages\?sessionId=[0-9a-f-]+$/.test(endpoint.data), 'sse: endpoint event names /sse/messages?sessionId=', endpoint.data);
      const messages = new URL(endpoint.data, env.mcp.sse).href;
      r = await http(messages, { method: 'POST', json: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { ...INIT_PARAMS, protocolVersion: '2024-11-05' } } });
      check(r.status === 401, 'sse: POST without token -> 401');
      r = await http(messages, { method: 'POST', headers: bearer(token), json: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { ...INIT_PARAMS, protocolVersion: '2024-11-05' } } });
      check(r.status === 202, 'sse: POST initialize -> 202', r.status);
      const init = JSON.parse((await events.next((e) => e.data.includes('"id":1'))).data);
      check(init.result?.protocolVersion === '2024-11-05', 'sse: initialize result on the stream', init);
      await http(messages, { method: 'POST', headers: bearer(token), json: { jsonrpc: '2.0', method: 'notifications/initialized' } });
      await http(messages, { method: 'POST', headers: bearer(token), json: { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } } });
      const who = JSON.parse((await events.next((e) => e.data.includes('"id":2'))).data);
      check(JSON.parse(who.result?.content?.[0]?.text ?? '{}').client_id === env.clients.basic.client_id, 'sse: whoami on the stream', who);
    } finally {
      events.close();
    }
  });

  await step('15. ts2 (SDK 2.x, 2026-07-28 only)', async () => {
    let r = await post(env.mcp.ts2, modernRequest('server/discover').json, modernRequest('server/discover').headers);
    check(r.status === 401 && r.headers.get('www-authenticate') === challengeOf('ts2'), 'ts2: 401 + challenge', r.headers.get('www-authenticate'));
    await prmOk('ts2');
    const token = await ccToken(env.mcp.ts2);
    r = await modern(env.mcp.ts2, token, 'server/discover');
    check(r.status === 200 && JSON.stringify(rpcOf(r)?.result?.supportedVersions) === `["${MODERN}"]`, 'ts2: server/discover -> supportedVersions [2026-07-28]', r.text.slice(0, 300));
    findings.ts2Capabilities = rpcOf(r)?.result?.capabilities;
    r = await modern(env.mcp.ts2, token, 'tools/call', { name: 'echo', arguments: { text: 'hi' } });
    check(textOf(r) === 'hi', 'ts2: echo', r.text.slice(0, 300));
    r = await modern(env.mcp.ts2, token, 'tools/list');
    const tools = rpcOf(r)?.result?.tools ?? [];
    const route = tools.find((t) => t.name === 'route');
    check(route?.inputSchema?.properties?.region?.['x-mcp-header'] === 'Region', 'ts2: route declares x-mcp-header Region', route);
    check(tools.some((t) => t.name === 'bad_header'), 'ts2: the SDK still lists bad_header (clients must drop it)', tools.map((t) => t.name));
    r = await modern(env.mcp.ts2, token, 'tools/call', { name: 'route', arguments: { region: 'eu' } }, { 'mcp-param-region': 'eu' });
    check(textOf(r) === 'routed eu', 'ts2: route with Mcp-Param-Region', r.text.slice(0, 300));
    r = await modern(env.mcp.ts2, token, 'tools/call', { name: 'route', arguments: { region: 'eu' } });
    check(r.status === 400 && rpcOf(r)?.error?.code === -32020, 'ts2: route without Mcp-Param-Region -> 400 -32020 (the SDK checks)', r.text.slice(0, 300));
    // MRTR: input_required, then the same call again with the answer.
    const elicitation = { capabilities: { elicitation: { form: {} } } };
    r = await modern(env.mcp.ts2, token, 'tools/call', { name: 'elicit', arguments: {} }, {}, elicitation);
    const round1 = rpcOf(r)?.result;
    findings.ts2Elicit = round1;
    check(round1?.resultType === 'input_required' && round1.inputRequests?.name?.method === 'elicitation/create', 'ts2: elicit -> input_required', r.text.slice(0, 300));
    r = await modern(env.mcp.ts2, token, 'tools/call', {
      name: 'elicit', arguments: {}, inputResponses: { name: { action: 'accept', content: { name: 'Smoke' } } }, ...(round1?.requestState ? { requestState: round1.requestState } : {}),
    }, {}, elicitation);
    check(textOf(r) === 'accept:Smoke', 'ts2: elicit retry with inputResponses -> accept:Smoke', r.text.slice(0, 300));
    // notify_later reaches an open subscriptions/listen stream.
    const listen = modernRequest('subscriptions/listen', { notifications: { toolsListChanged: true } }, { id: 'L1' });
    const stream = await fetch(env.mcp.ts2, {
      method: 'POST', headers: { ...listen.headers, ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify(listen.json),
    });
    const events = sseReader(stream);
    try {
      await events.next((e) => e.data.includes('notifications/subscriptions/acknowledged'));
      r = await modern(env.mcp.ts2, token, 'tools/call', { name: 'notify_later', arguments: {} });
      check(textOf(r) === 'scheduled', 'ts2: notify_later -> scheduled');
      const changed = await events.next((e) => e.data.includes('notifications/tools/list_changed'), 2000).catch(() => undefined);
      check(!!changed, 'ts2: tools/list_changed on the listen stream', changed);
    } finally {
      events.close();
    }
    r = await post(env.mcp.ts2, { jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }, bearer(token));
    check(r.status === 400 && rpcOf(r)?.error?.code === -32022, 'ts2: a 2025 initialize -> 400 -32022 (modern only)', r.text.slice(0, 300));
  });

  await step('16. lazy and open', async () => {
    const lazy = await initialize(env.mcp.lazy);
    check(lazy.r.status === 200 && !!lazy.sessionId, 'lazy: initialize without a token', lazy.r.status);
    let r = await post(env.mcp.lazy, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': lazy.sessionId, 'mcp-protocol-version': '2025-11-25' });
    check(r.status === 200 && rpcOf(r)?.result?.tools?.some((t) => t.name === 'whoami'), 'lazy: tools/list without a token', r.status);
    r = await legacyCall(env.mcp.lazy, undefined, lazy.sessionId, 'echo', { text: 'x' }, 3);
    check(r.status === 401 && r.headers.get('www-authenticate') === challengeOf('lazy'), 'lazy: tools/call without a token -> 401 + challenge', r.headers.get('www-authenticate'));
    await prmOk('lazy');
    const token = await ccToken(env.mcp.lazy);
    r = await legacyCall(env.mcp.lazy, token, lazy.sessionId, 'echo', { text: 'x' }, 4);
    check(textOf(r) === 'x', 'lazy: tools/call with a token', r.text.slice(0, 200));
    r = await legacyCall(env.mcp.lazy, token, lazy.sessionId, 'write_note', {}, 5);
    check(r.status === 403 && /scope="mcp:read mcp:write"/.test(r.headers.get('www-authenticate')), 'lazy: write_note without mcp:write -> 403', r.headers.get('www-authenticate'));

    const open = await initialize(env.mcp.open);
    check(open.r.status === 200 && !open.r.headers.get('www-authenticate'), 'open: initialize without a token, no challenge', open.r.status);
    r = await legacyCall(env.mcp.open, undefined, open.sessionId, 'echo', { text: 'o' });
    check(textOf(r) === 'o' && !r.headers.get('www-authenticate'), 'open: tools/call without a token');
    const origin = new URL(env.mcp.open).origin;
    check((await http(`${origin}/.well-known/oauth-protected-resource/open/mcp`)).status === 404, 'open: no PRM');
  });

  await step('17. py (Python SDK, both eras)', async () => {
    if (!env.mcp.py) return;
    let r = await post(env.mcp.py, { jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS });
    findings.pyChallenge = r.headers.get('www-authenticate');
    check(r.status === 401 && findings.pyChallenge.includes(`resource_metadata="${env.prm.py}"`), 'py: 401 + challenge naming its PRM (the SDK\'s wording)', findings.pyChallenge);
    findings.pyPrm = await prmOk('py', `${env.issuer}/`);
    const token = await ccToken(env.mcp.py);
    r = await modern(env.mcp.py, token, 'server/discover');
    check(r.status === 200 && rpcOf(r)?.result?.supportedVersions?.includes(MODERN), 'py: server/discover', r.text.slice(0, 300));
    r = await modern(env.mcp.py, token, 'tools/call', { name: 'whoami', arguments: {} });
    check(JSON.parse(textOf(r) ?? '{}').client_id === env.clients.basic.client_id, 'py: whoami (token checked through /__test/verify)', r.text.slice(0, 300));
    r = await modern(env.mcp.py, token, 'tools/call', { name: 'route', arguments: { region: 'eu' } });
    check(r.status === 400, 'py: route without Mcp-Param-Region -> 400', r.text.slice(0, 200));
    const s = await initialize(env.mcp.py, token);
    check(s.r.status === 200 && !!s.sessionId, 'py: 2025 initialize on the same endpoint -> session', s.r.text.slice(0, 200));
    r = await legacyCall(env.mcp.py, token, s.sessionId, 'echo', { text: 'py' });
    check(textOf(r) === 'py', 'py: echo in the 2025 session', r.text.slice(0, 200));
    r = await modern(env.mcp.py, await ccToken(env.mcp.ts2), 'tools/call', { name: 'echo', arguments: { text: 'x' } });
    check(r.status === 401, 'py: a token for ts2 -> 401', r.status);
  });

  await step('18. rmcp (Rust SDK, 2026-07-28 only)', async () => {
    if (!env.mcp.rmcp) return;
    let r = await post(env.mcp.rmcp, modernRequest('server/discover').json, modernRequest('server/discover').headers);
    findings.rmcpChallenge = r.headers.get('www-authenticate');
    check(r.status === 401 && (findings.rmcpChallenge ?? '').includes(`resource_metadata="${env.prm.rmcp}"`), 'rmcp: 401 + challenge naming its PRM', findings.rmcpChallenge);
    await prmOk('rmcp');
    const token = await ccToken(env.mcp.rmcp);
    r = await modern(env.mcp.rmcp, token, 'server/discover');
    check(r.status === 200 && rpcOf(r)?.result?.supportedVersions?.includes(MODERN), 'rmcp: server/discover', r.text.slice(0, 300));
    r = await modern(env.mcp.rmcp, token, 'tools/call', { name: 'echo', arguments: { text: 'rs' } });
    check(textOf(r) === 'rs', 'rmcp: echo', r.text.slice(0, 300));
  });

  await step('19. request log fields, /__test/verify', async () => {
    const log = (await http(`${env.issuer}/__test/requests`)).json.requests;
    const ts1Post = log.find((e) => e.server === 'ts1' && e.method === 'POST' && e.headers?.['mcp-session-id']);
    check(ts1Post?.auth === true && ts1Post.headers['mcp-protocol-version'] === '2025-11-25', 'log: ts1 entry with headers and auth: true', ts1Post);
    const routed = log.find((e) => e.server === 'ts2' && e.headers?.['mcp-param-region'] === 'eu');
    check(routed?.headers['mcp-method'] === 'tools/call' && routed.headers['mcp-name'] === 'route', 'log: ts2 entry with mcp-method, mcp-name, mcp-param-region', routed);
    check(log.some((e) => e.server === 'open' && e.auth === false), 'log: open entries with auth: false');
    check(log.every((e) => !JSON.stringify(e).includes('Bearer')), 'log: never a token');
    const nonMcp = log.find((e) => e.server === 'mainAs' && e.path === '/token');
    check(nonMcp && !('headers' in nonMcp) && Object.keys(nonMcp).length === 3, 'log: AS entries unchanged ({server, method, path})', nonMcp);

    let r;
    const verify = (json) => http(`${env.issuer}/__test/verify`, { method: 'POST', json });
    const token = await ccToken(env.mcp.ts2, 'mcp:read mcp:write');
    r = await verify({ token, audience: env.mcp.ts2 });
    check(r.status === 200 && r.json.scope === 'mcp:read mcp:write' && r.json.client_id === env.clients.basic.client_id && r.json.sub && r.json.exp, 'verify: valid token -> {sub, scope, client_id, exp}', r.text);
    r = await verify({ token, audience: env.mcp.ts1 });
    check(r.status === 401 && r.json.error === 'invalid_token', 'verify: other audience -> 401 invalid_token', r.text);
    r = await verify({ token: 'nope', audience: env.mcp.ts1 });
    check(r.status === 401 && r.json.error === 'invalid_token', 'verify: garbage -> 401', r.text);
  });
}
