// What the test tools of every protocol generation answer, in one place, so
// that the SDK 1.x and 2.x servers (mcp-ts1.mjs, mcp-ts2.mjs) cannot drift
// apart. py_server.py has its own copy of the same values.

/** Long non-ASCII text: multi-byte characters split across many TCP chunks. */
export const UNICODE_TEXT = Array(2000).fill('héllo wörld — 你好, мир 🌍').join('\n');

export const ELICIT_PARAMS = {
  message: 'Your name?',
  requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
};

export const SAMPLE_PARAMS = {
  messages: [{ role: 'user', content: { type: 'text', text: 'Say hi' } }],
  maxTokens: 20,
};

export const text = (t) => ({ content: [{ type: 'text', text: t }] });

/** `accept:<name>` or the action (`decline` / `cancel`). */
export const elicitAnswer = (action, content) => (action === 'accept' ? `accept:${content?.name}` : action);

/** `sampled:<text of the answer>` (the content's type when it is not text). */
export const sampleAnswer = (result) => `sampled:${result?.content?.type === 'text' ? result.content.text : result?.content?.type}`;

export const whoamiText = (authInfo) => JSON.stringify({
  sub: authInfo?.extra?.sub, scope: authInfo?.extra?.scope, client_id: authInfo?.clientId,
});

export const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * The `slow` tool's wait: resolves after `ms`, or rejects as soon as `signal`
 * aborts (cancellation notice, or the request's stream closed on
 * 2026-07-28), counting the abort in `counter.aborted`.
 */
export function abortableWait(ms, signal, counter) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    const abort = () => {
      clearTimeout(timer);
      counter.aborted += 1;
      reject(new Error(`cancelled: ${signal.reason}`));
    };
    if (signal.aborted) abort(); else signal.addEventListener('abort', abort, { once: true });
  });
}

/**
 * Progress notifications `steps` times 50 ms apart when the request asked for
 * them, the last one 50 ms before the result: the TypeScript SDK's clients
 * handle a notification a microtask later than an answer read in the same
 * chunk, and would drop a last progress sent together with its result.
 */
export async function sendProgress(steps, progressToken, notify) {
  for (let i = 1; i <= steps; i += 1) {
    if (progressToken !== undefined) {
      await notify({ method: 'notifications/progress', params: { progressToken, progress: i, total: steps } });
    }
    await sleep(50);
  }
}
