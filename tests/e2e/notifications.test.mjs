// When the background refresh finds a grant gone, the app tells the user twice:
// a desktop notification (org.freedesktop.Notifications.Notify on the session
// bus, watched here with dbus-monitor) and a banner in the window that opens
// the account. Tokens live 6 s, so the scheduler refreshes right away; the
// refresh token is revoked at the authorization server first.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { byTestId, invoke, openAddPreview, revokeRefreshToken, useApp, waitFor, waitForFirstAccount } from './harness.mjs';

describe('notifications', () => {
  const app = useApp({ servers: { args: ['--access-token-ttl', '6'] } });

  it('a revoked grant: a desktop notification and a banner that opens the account', async () => {
    const b = app.browser;
    // Sign in through the UI (Chromium approves).
    await openAddPreview(app);
    // Revoke right after the sign-in, before the scheduler's first refresh.
    const monitor = spawn('dbus-monitor', ['--session', "interface='org.freedesktop.Notifications'"], {
      env: app.env,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let seen = '';
    monitor.stdout.setEncoding('utf8').on('data', (d) => { seen += d; });
    try {
      await byTestId(b, 'add-signin').click();
      const account = await waitForFirstAccount(app);
      const bundle = await revokeRefreshToken(app, account);

      await waitFor(() => seen.includes('MCP Auth: sign in again'), {
        timeout: 40_000,
        message: 'a Notify call on the session bus',
      });
      assert.match(seen, /member=Notify/);
      assert.ok(seen.includes(`Account ${account.id} needs a new sign-in`), seen.slice(-2000));
      assert.doesNotMatch(seen, new RegExp(bundle.refresh_token.slice(0, 16)), 'no token in the notification');

      // The banner in the window, once, with a button to the account.
      const banner = await waitFor(async () => {
        const found = await b.$$('[data-testid^="banner"]');
        for (const el of found) if ((await el.getText()).includes('needs a new sign-in')) return el;
        return null;
      }, { timeout: 20_000, message: 'the in-window banner' });
      await app.screenshot('needs-sign-in-banner');
      await banner.$('button=Open').click();
      await waitFor(async () => (await b.execute(() => location.hash)) === `#/account/${account.id}`, { message: 'the account opened' });
      const detail = await invoke(b, 'account_detail', { id: account.id });
      assert.equal(detail.account.status.state, 'needs_sign_in');
    } finally {
      monitor.kill();
    }
  });
});
