// Smoke test: the real app starts under tauri-driver, shows its heading and
// its empty accounts screen, and gets the environment the harness gave it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byRole, byTestId, byText, pageText, processEnv, useApp, waitFor } from './harness.mjs';

describe('app smoke', () => {
  const app = useApp({ servers: true });

  it('shows the heading "MCP Auth"', async () => {
    const b = app.browser;
    assert.equal(await b.getTitle(), 'MCP Auth');
    const heading = await waitFor(() => byRole(b, 'heading', { name: 'MCP Auth' }), { message: 'heading "MCP Auth"' });
    assert.equal(await heading.isDisplayed(), true);
    // The same element by its text.
    const h = byText(b, 'MCP Auth');
    await h.waitForDisplayed();
    assert.match(await h.getTagName(), /^h[1-6]$/i);
  });

  it('shows the empty accounts state', async () => {
    const b = app.browser;
    // The new UI marks it with data-testid="empty-state"; the first one has an
    // empty-state paragraph saying "No accounts yet…".
    const found = await waitFor(async () => {
      const byId = byTestId(b, 'empty-state');
      if (await byId.isExisting() && await byId.isDisplayed()) return byId;
      const byWords = byText(b, 'No accounts yet', { exact: false });
      if (await byWords.isExisting() && await byWords.isDisplayed()) return byWords;
      return null;
    }, { message: 'an empty state (data-testid="empty-state" or "No accounts yet")' });
    const text = (await found.getText()).trim();
    assert.ok(text.length > 0, 'the empty state says something');
    assert.match(await pageText(b), /MCP Auth/);
  });

  it('runs with the harness environment and reaches the test servers', async () => {
    const pids = app.appPids();
    assert.equal(pids.length, 1, `one app process of this run (found ${pids.join(' ') || 'none'})`);
    const env = processEnv(pids[0]);
    assert.equal(env.MCPAUTH_HOME, app.mcpauthHome);
    assert.equal(env.MCPAUTH_KEYRING_SERVICE, app.keyringService);
    assert.match(env.BROWSER, /tests\/browser\/approve\.mjs$/);
    assert.equal(env.TAURI_WEBVIEW_AUTOMATION, 'true');
    // The servers' JSON line is there, and they answer.
    const res = await fetch(app.servers.mcp.current, { method: 'POST' });
    assert.equal(res.status, 401);
    // The page's JavaScript runs in the webview, with Tauri's IPC injected.
    const info = await app.browser.execute(() => ({
      href: location.href,
      tauri: typeof window.__TAURI_INTERNALS__,
    }));
    assert.equal(info.tauri, 'object');
    assert.match(info.href, /^(tauri:\/\/localhost|http:\/\/tauri\.localhost)/);
  });
});
