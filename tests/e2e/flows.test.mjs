// The app's main flows, driven as a user would: the real app under Xvfb, the
// real servers, the real keyring, and Chromium (Playwright, through BROWSER)
// approving on the authorization server's own pages. Each test leaves a
// screenshot of the screen it ends on in tests/e2e/screenshots/.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { byTestId, click, go, invoke, keyringBundle, type, useApp, waitFor, waitForText } from './harness.mjs';

async function accounts(b) {
  return invoke(b, 'list_accounts');
}

async function introspectActive(servers, token) {
  const meta = await (await fetch(`${servers.issuer}/.well-known/oauth-authorization-server`)).json();
  const { client_id, client_secret } = servers.clients.introspector;
  const res = await fetch(meta.introspection_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  });
  return (await res.json()).active;
}

/**
 * Records, inside the webview, every IPC answer it receives from now on. Tauri
 * delivers each command's result and each event's payload by looking up a
 * registered callback in `__TAURI_INTERNALS__.callbacks` and calling it; the
 * recorder wraps that lookup, so it sees exactly what crosses into the page,
 * whoever asked for it.
 */
async function recordIpc(b) {
  await b.execute(() => {
    if (window.__ipcLog) return;
    window.__ipcLog = [];
    const callbacks = window.__TAURI_INTERNALS__.callbacks;
    const get = callbacks.get.bind(callbacks);
    callbacks.get = (id) => {
      const callback = get(id);
      if (!callback) return callback;
      return (data) => {
        let text;
        try { text = JSON.stringify(data) ?? String(data); } catch { text = String(data); }
        window.__ipcLog.push(text);
        return callback(data);
      };
    };
  });
}

describe('the desktop app', () => {
  const app = useApp({ servers: true });
  let first; // the account the loopback sign-in adds
  const secrets = new Set(); // every token the keyring held during the run

  /** Remembers the tokens the keyring holds for every account now. */
  async function remember(b) {
    for (const account of await accounts(b)) {
      const bundle = keyringBundle(app, account.id);
      for (const t of [bundle.access_token, bundle.refresh_token, bundle.id_token]) if (t) secrets.add(t);
    }
  }

  it('adds the current MCP server and signs in through the loopback redirect', async () => {
    const b = app.browser;
    await recordIpc(b);
    await go(b, '#/add');
    await type(b, 'add-url', app.servers.mcp.current);
    await click(b, 'add-discover');
    await byTestId(b, 'add-preview').waitForDisplayed({ timeout: 20_000 });
    await waitForText(b, 'Protected resource metadata');
    assert.equal(await byTestId(b, 'scope-mcp:read').isSelected(), true, 'the challenged scope is ticked');
    await click(b, 'add-signin');
    const waiting = byTestId(b, 'signin-waiting');
    await waiting.waitForDisplayed({ timeout: 20_000 });
    assert.match(await byTestId(b, 'signin-host').getText(), /127\.0\.0\.1/);
    assert.match(await byTestId(b, 'signin-redirect').getText(), /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    // Chromium approves; the loopback listener completes the sign-in.
    await waitFor(async () => (await accounts(b)).length === 1, { timeout: 60_000, message: 'the new account' });
    [first] = await accounts(b);
    assert.equal(first.status.state, 'active');
    assert.deepEqual(first.granted_scopes, ['mcp:read']);
    assert.equal(first.subject, 'alice');
    await go(b, '#/accounts');
    const row = byTestId(b, 'account-row');
    await row.waitForDisplayed();
    assert.match(await byTestId(b, 'status-chip').getText(), /active|expires/i);
    await remember(b);
    await app.screenshot('accounts-after-loopback-sign-in');
  });

  it('signs in through the deep link handed to a second launch', async () => {
    const b = app.browser;
    rmSync(app.redirectFile, { force: true });
    await go(b, '#/add');
    await type(b, 'add-url', app.servers.mcp.current);
    await click(b, 'add-discover');
    await byTestId(b, 'add-preview').waitForDisplayed({ timeout: 20_000 });
    // Signed in to this server already (the test before): a second account, on purpose.
    if (await byTestId(b, 'add-existing').isExisting()) await click(b, 'add-second-account');
    // The redirect method and the client are under Options.
    await b.execute(() => {
      for (const d of document.querySelectorAll('[data-testid="add-options"], [data-testid="add-options"] details')) d.open = true;
    });
    await click(b, 'add-redirect-deep_link');
    await type(b, 'add-client-id', 'mcpauth-public');
    await type(b, 'add-name', 'via deep link');
    await click(b, 'add-signin');
    await byTestId(b, 'signin-waiting').waitForDisplayed({ timeout: 20_000 });
    assert.equal(await byTestId(b, 'signin-redirect').getText(), 'mcpauth://oauth/callback');
    // Chromium ends on mcpauth://…, which the desktop hands to a new launch of the app.
    const url = await app.waitForRedirect();
    assert.match(url, /^mcpauth:\/\/oauth\/callback\?code=/);
    const second = await app.launchSecondInstance(url);
    assert.equal(second.code, 0, 'the second launch hands over and exits');
    await waitFor(async () => (await accounts(b)).length === 2, { timeout: 30_000, message: 'the deep-link account' });
    const added = (await accounts(b)).find((a) => a.name === 'via deep link');
    assert.ok(added, 'named as asked');
    assert.equal(added.client_id, 'mcpauth-public');
    await remember(b);
    await app.screenshot('deep-link-sign-in');
  });

  it('refuses an unsolicited mcpauth://oauth/callback visibly', async () => {
    const b = app.browser;
    const before = (await accounts(b)).length;
    await app.launchSecondInstance('mcpauth://oauth/callback?code=stolen&state=forged');
    const banner = byTestId(b, 'banner-unsolicited');
    await banner.waitForDisplayed({ timeout: 20_000 });
    assert.match(await banner.getText(), /no sign-in in progress|start the sign-in again|Ignored/i);
    assert.equal((await accounts(b)).length, before, 'nothing was added');
    await app.screenshot('unsolicited-callback-refused');
  });

  it('upgrades scopes: refresh is refused by the server, so it re-authorizes for the union', async () => {
    const b = app.browser;
    await go(b, `#/account/${first.id}`);
    await byTestId(b, 'detail-header').waitForDisplayed({ timeout: 10_000 });
    await click(b, 'scope-mcp:write');
    await click(b, 'detail-upgrade');
    await waitFor(async () => (await invoke(b, 'account_detail', { id: first.id })).account.granted_scopes.includes('mcp:write'), {
      timeout: 60_000,
      message: 'mcp:write granted',
    });
    const detail = await invoke(b, 'account_detail', { id: first.id });
    assert.deepEqual(detail.account.granted_scopes, ['mcp:read', 'mcp:write']);
    assert.ok(detail.activity.some((a) => a.kind === 'upgrade' && /invalid_scope/.test(a.summary)), 'the refused refresh is in the timeline');
    await go(b, `#/account/${first.id}`);
    await waitForText(b, 'mcp:write');
    await remember(b);
    await app.screenshot('upgraded-scopes');
  });

  it('exports the account to Claude Code, checked on disk', async () => {
    const b = app.browser;
    await go(b, `#/account/${first.id}`);
    await click(b, 'export-preview-claude-code');
    const diff = byTestId(b, 'export-diff-claude-code');
    await diff.waitForDisplayed({ timeout: 10_000 });
    assert.match(await diff.getText(), /headersHelper/);
    await click(b, 'export-write-claude-code');
    // No project in view: Claude Code's user-scope file (what `claude mcp add --scope user` edits).
    const file = join(app.home, '.claude.json');
    await waitFor(() => existsSync(file), { message: '~/.claude.json written' });
    const config = JSON.parse(readFileSync(file, 'utf8'));
    const entries = Object.values(config.mcpServers);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].type, 'http');
    assert.equal(entries[0].url, app.servers.mcp.current);
    // The server's URL names the account (its default), so a new sign-in serves the entry again.
    assert.ok(entries[0].headersHelper.endsWith(` token ${app.servers.mcp.current} --format headers-json`),
      entries[0].headersHelper);
    assert.ok(entries[0].headersHelper.startsWith('/'), `mcpauth by its absolute path: ${entries[0].headersHelper}`);
    const bundle = keyringBundle(app, first.id);
    assert.ok(!readFileSync(file, 'utf8').includes(bundle.access_token), 'no token in the file');
    await app.screenshot('exported-to-claude-code');
  });

  it('adds a machine account with a private key', async () => {
    const b = app.browser;
    await go(b, '#/machine');
    await type(b, 'machine-url', app.servers.mcp.current);
    await type(b, 'machine-client-id', 'mcpauth-es256');
    await type(b, 'machine-key', app.servers.clients.es256.private_key_pem);
    await type(b, 'machine-scopes', 'mcp:read');
    await click(b, 'machine-submit');
    await byTestId(b, 'machine-result').waitForDisplayed({ timeout: 30_000 });
    const machine = (await accounts(b)).find((a) => a.kind === 'machine');
    assert.ok(machine, 'a machine account');
    assert.equal(machine.client_auth, 'private_key_jwt');
    assert.equal(machine.status.state, 'active');
    await remember(b);
    await app.screenshot('machine-account');
  });

  it('hands the webview no token outside reveal (IPC answers and events inspected)', async () => {
    const b = app.browser;
    // Every read command once more, for every account, on top of what the UI called.
    await invoke(b, 'get_settings');
    await invoke(b, 'app_info');
    await invoke(b, 'import_candidates');
    await invoke(b, 'pending_notices');
    for (const account of await accounts(b)) {
      await invoke(b, 'account_detail', { id: account.id });
      await invoke(b, 'export_preview', { target: 'claude-code', id: account.id, path: join(app.work, 'preview.mcp.json') });
      await invoke(b, 'refresh_now', { id: account.id });
    }
    await remember(b);
    const log = await b.execute(() => window.__ipcLog);
    assert.ok(log.length > 20, `the recorder saw the UI's traffic (${log.length} answers)`);
    assert.ok(secrets.size >= 5, `tokens known to the check (${secrets.size})`);
    const leaks = [];
    log.forEach((answer, i) => {
      for (const secret of secrets) if (answer.includes(secret)) leaks.push(`answer #${i}: ${answer.slice(0, 60)}…`);
    });
    // The positive control: reveal hands over the current token, and the recorder sees it.
    const revealed = await invoke(b, 'reveal_token', { id: first.id });
    assert.ok(secrets.has(revealed), 'reveal_token returns the stored access token');
    const after = await b.execute(() => window.__ipcLog);
    assert.ok(after.slice(log.length).some((answer) => answer.includes(revealed)), 'the recorder sees a token when one is sent');
    assert.deepEqual(leaks, [], 'IPC answers that carried a token');
  });

  it('signs out with revocation; introspection says the grant is gone', async () => {
    const b = app.browser;
    const refreshToken = keyringBundle(app, first.id).refresh_token;
    assert.equal(await introspectActive(app.servers, refreshToken), true);
    await go(b, `#/account/${first.id}`);
    await click(b, 'detail-signout');
    await click(b, 'detail-signout-confirm');
    await waitFor(async () => !(await accounts(b)).some((a) => a.id === first.id), { timeout: 30_000, message: 'account removed' });
    await waitForText(b, /revoked/i);
    assert.equal(await introspectActive(app.servers, refreshToken), false);
    await app.screenshot('signed-out');
  });

  it('shows the refusal of a forged callback that started the app (cold start)', async () => {
    await app.restart({ args: ['mcpauth://oauth/callback?code=stolen&state=forged-at-start'] });
    const b = app.browser;
    const banner = byTestId(b, 'banner-unsolicited');
    await banner.waitForDisplayed({ timeout: 20_000 });
    assert.match(await banner.getText(), /no sign-in in progress/i);
    await app.screenshot('cold-start-forged-callback-refused');
  });
});
