// One sign-in for every MCP server of an authorization server, in the app, as
// a user would: the first server is added through Chromium; Add server then
// offers that sign-in for a second server of the same authorization server
// and adds it with no browser (RFC 8707 §2.2, oidc-provider's client
// `mcpauth-shared`, tests/servers/as.mjs); signing the first account out ends
// the second's sign-in, and both screens say so. What the screens draw is
// checked, not only what the backend answers.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { byTestId, click, drawn, go, invoke, type, useApp, waitFor } from './harness.mjs';

/** Add server's Options (account name, redirect, client), folded by default. */
const openOptions = (b) => b.execute(() => {
  for (const d of document.querySelectorAll('[data-testid="add-options"], [data-testid="add-options"] details')) d.open = true;
});

async function discover(b, url) {
  await type(b, 'add-url', url);
  await click(b, 'add-discover');
  await byTestId(b, 'add-preview').waitForDisplayed({ timeout: 20_000 });
}

describe('one sign-in per authorization server', () => {
  const app = useApp({ servers: true });

  it('adds a second server with the first one\'s sign-in and no browser; signing the first out ends both', async () => {
    const b = app.browser;
    const { mcp } = app.servers;

    // The first server, through the browser, with the client whose grant covers every server there.
    await go(b, '#/add');
    await discover(b, mcp.current);
    assert.equal(await byTestId(b, 'add-share').isExisting(), false, 'nothing to share yet');
    await openOptions(b);
    await type(b, 'add-client-id', 'mcpauth-shared');
    await type(b, 'add-name', 'first');
    await click(b, 'add-signin');
    await app.waitForRedirect({ timeout: 60_000 });
    await byTestId(b, 'add-result').waitForDisplayed({ timeout: 30_000 });
    const [holder] = await invoke(b, 'list_accounts');
    assert.equal(holder.subject, 'alice');
    assert.equal(holder.client_id, 'mcpauth-shared');

    // The second server: Add server offers that sign-in, and says what a refusal would cost.
    await click(b, 'add-another');
    await discover(b, mcp.ts2);
    await byTestId(b, 'add-share').waitForDisplayed({ timeout: 10_000 });
    const offer = await drawn(b, 'add-share');
    assert.match(offer, /You are signed in at 127\.0\.0\.1:\d+ as alice \(account first\)/);
    assert.match(await drawn(b, 'add-share-risk'), /if this one refuses, first will need to sign in again/);
    await app.screenshot('add-server-offers-a-shared-sign-in');
    await openOptions(b);
    await type(b, 'add-name', 'second');
    await click(b, 'add-share-signin');
    await byTestId(b, 'add-result').waitForDisplayed({ timeout: 30_000 });
    assert.match(await drawn(b, 'add-result-shared'), /shared with account first: no browser was needed/);
    assert.equal(existsSync(app.redirectFile), false, 'no browser opened for the second server');
    const second = (await invoke(b, 'list_accounts')).find((a) => a.name === 'second');
    assert.ok(second, 'the second account');
    assert.equal(second.grant_holder, holder.id);
    assert.equal(second.subject, 'alice');
    assert.equal(second.has_refresh_token, false, 'the refresh token stays with the first account');
    assert.equal(second.status.state, 'active');
    await app.screenshot('add-server-shared-sign-in');

    // Both refresh: the second with the first's refresh token, and the first
    // again after it (a rotated token lost on the way would be a replay).
    assert.equal((await invoke(b, 'refresh_now', { id: second.id })).status.state, 'active');
    assert.equal((await invoke(b, 'refresh_now', { id: holder.id })).status.state, 'active');

    // A third server there: the acceptance is remembered, and said.
    await click(b, 'add-another');
    await discover(b, mcp.ts1);
    assert.match(await drawn(b, 'add-share-history'), /accepted such a request for this client before/);
    assert.equal(await byTestId(b, 'add-share-risk').isExisting(), false);

    // Signing the first account out: the confirmation names the second, and so does the result.
    await go(b, `#/account/${holder.id}`);
    await click(b, 'detail-signout');
    assert.equal(await drawn(b, 'signout-shared'), '1 account shares this sign-in: second. It will need to sign in again.');
    await app.screenshot('sign-out-of-a-shared-sign-in');
    await click(b, 'detail-signout-confirm');
    await waitFor(async () => (await b.execute(() => location.hash)) === '#/accounts', { message: 'back on the accounts list' });
    await waitFor(async () => /second shared this sign-in and now needs one of its own/.test(
      (await b.execute(() => document.body.innerText)).replace(/\s+/g, ' '),
    ), { message: 'the sign-out banner naming the second account' });
    const after = await invoke(b, 'list_accounts');
    assert.deepEqual(after.map((a) => a.id), [second.id]);
    assert.equal(after[0].status.state, 'needs_sign_in');
    assert.match(after[0].status.reason, /which was signed out; sign in again/);
    await waitFor(async () => /needs sign-in/i.test(await drawn(b, 'status-chip')), { message: 'the row drawn as needing a sign-in' });
  });
});
