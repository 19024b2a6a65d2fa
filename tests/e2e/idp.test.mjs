// Organisation sign-in (MCP SEP-990) in the app, as a user would: Settings
// signs in at the organisation's identity provider (a second oidc-provider,
// tests/servers/idjag.mjs) in Chromium; Machine accounts then adds a server
// through it with no browser at all. What the screens draw is checked.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { byTestId, click, drawn, go, invoke, pageText, type, useApp, waitFor } from './harness.mjs';

describe('organisation sign-in', () => {
  const app = useApp({ servers: true });

  it('signs in at the identity provider in Settings, then adds a server through it without a browser', async () => {
    const b = app.browser;
    const issuer = app.servers.idpIssuer;
    await go(b, '#/settings');
    await type(b, 'idp-issuer', issuer);
    await type(b, 'idp-client-id', 'mcpauth-idp');
    await click(b, 'idp-submit');
    // While the browser is out: the card says where the user is expected.
    await waitFor(async () => (await pageText(b)).includes('Waiting for you to sign in at'), {
      timeout: 20_000,
      message: "the note that the browser is out",
    });
    // Chromium (BROWSER) signs in as alice on the IdP's own pages.
    await app.waitForRedirect({ timeout: 60_000 });
    await waitFor(async () => (await byTestId(b, 'settings-idp-who').isExisting())
      && /^as alice/.test(await drawn(b, 'settings-idp-who')), {
      timeout: 30_000,
      message: 'the identity provider shown as signed in',
    });
    const card = await drawn(b, 'settings-idp');
    assert.ok(card.includes(issuer), card);
    assert.ok(card.includes('mcpauth-idp'), card);
    assert.match(card, /Signed in as alice · its ID token expires in [^;]+; MCP Auth renews it/);
    assert.ok(card.includes('none yet'), card);
    assert.deepEqual((await invoke(b, 'get_settings')).identity_providers, [{ issuer, client_id: 'mcpauth-idp' }]);
    // Saving the settings form (which knows nothing of them) keeps them.
    await click(b, 'settings-save');
    await byTestId(b, 'settings-saved').waitForDisplayed({ timeout: 10_000 });
    assert.deepEqual((await invoke(b, 'get_settings')).identity_providers, [{ issuer, client_id: 'mcpauth-idp' }]);
    await b.execute(() => document.querySelector('[data-testid="settings-idps"]').scrollIntoView());
    await app.screenshot('settings-identity-provider-signed-in');

    // A server behind it: the machine form, tokens from the organisation sign-in.
    await go(b, '#/machine');
    const from = byTestId(b, 'machine-tokens-from');
    await from.waitForDisplayed({ timeout: 10_000 });
    await from.selectByIndex(1);
    assert.match(await drawn(b, 'machine-idp-note'), /Each token is an ID-JAG from .* which vouches that alice/);
    await type(b, 'machine-url', app.servers.mcp.current);
    await type(b, 'machine-client-id', 'mcpauth-idjag');
    await type(b, 'machine-secret', app.servers.clients.idjag.client_secret);
    await type(b, 'machine-scopes', 'mcp:read');
    await click(b, 'machine-submit');
    await byTestId(b, 'machine-result').waitForDisplayed({ timeout: 60_000 });
    const account = (await invoke(b, 'list_accounts')).find((a) => a.assertion_source?.kind === 'idp');
    assert.ok(account, 'an account through the identity provider');
    assert.equal(account.status.state, 'active');
    assert.equal(account.subject, 'alice', 'the token names the person the IdP signed in');
    assert.equal(existsSync(app.redirectFile), false, 'no browser opened for the server');

    await go(b, `#/account/${account.id}`);
    await byTestId(b, 'detail-header').waitForDisplayed({ timeout: 10_000 });
    assert.match(await drawn(b, 'detail-header'), /enterprise-managed/);
    assert.ok((await drawn(b, 'assertion-source')).includes(issuer));

    // Settings now lists the server under it, and no longer offers to remove it.
    await go(b, '#/settings');
    await waitFor(async () => (await drawn(b, 'settings-idp')).includes(app.servers.mcp.current), {
      message: 'the server listed under its identity provider',
    });
    assert.equal(await byTestId(b, 'settings-idp-forget').isExisting(), false);
    await b.execute(() => document.querySelector('[data-testid="settings-idps"]').scrollIntoView());
    await app.screenshot('settings-identity-provider-with-a-server');
  });

  it('a machine account through an identity provider with no sign-in there says what to do', async () => {
    const b = app.browser;
    const before = (await invoke(b, 'list_accounts')).length;
    const error = await invoke(b, 'add_machine_account', {
      options: {
        mcp_url: app.servers.mcp.current, name: null, client_id: 'mcpauth-idjag',
        client_secret: app.servers.clients.idjag.client_secret, private_key: null, signing_alg: null,
        scopes: [], idp: { issuer: app.servers.idpIssuer, client_id: 'nobody-signed-in-here' },
      },
    }).then(() => null, (e) => e);
    assert.ok(error, 'refused');
    assert.match(error.message, /no sign-in at .* for the client nobody-signed-in-here: sign in there in Settings/);
    assert.equal((await invoke(b, 'list_accounts')).length, before, 'no account made');
  });
});
