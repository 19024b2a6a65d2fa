// When the background refresh finds a grant gone, the app tells the user twice:
// a desktop notification (org.freedesktop.Notifications.Notify on the session
// bus, watched here with dbus-monitor) and a banner in the window that opens
// the account. Tokens live 6 s, so the scheduler refreshes right away; the
// refresh token is revoked at the authorization server first.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  byTestId, closeWindow, invoke, openAddPreview, revokeRefreshToken, useApp, waitFor, waitForFirstAccount,
} from './harness.mjs';
import { startStatusNotifierWatcher } from './sni.mjs';

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

// A click on the notification while the window is closed: the desktop's
// notification server (dunst, a real one, on the test's session bus and X
// display) reports the click as ActionInvoked(id, "default"), and the app
// builds its window on the account the notification named. WebDriver cannot
// follow a rebuilt window, so the new window's screen is read from the app's
// log ("window reopened: … on #/account/<id>", sent once its page painted).
describe('a notification clicked while the window is closed', () => {
  let sni;
  let dunst;
  before(async () => {
    sni = await startStatusNotifierWatcher();
  });
  const app = useApp({ servers: { args: ['--access-token-ttl', '6'] }, env: { MCPAUTH_LOG: 'info' } });
  after(async () => {
    dunst?.kill();
    await sni?.stop();
  });

  const dunstctl = (...args) => execFileSync('dunstctl', args, { env: app.env, encoding: 'utf8' }).trim();
  const reopened = () => readFileSync(join(app.logDir, 'driver.log'), 'utf8').match(/window reopened: .*/g) ?? [];

  it('opens the window on the account that needs a sign-in', async () => {
    // Popups at the bottom left, away from the app's window.
    const config = join(app.logDir, 'dunstrc');
    writeFileSync(config, '[global]\norigin = bottom-left\noffset = 0x0\n');
    dunst = spawn('dunst', ['-config', config], { env: app.env, stdio: 'ignore' });
    await waitFor(() => {
      try {
        return dunstctl('is-paused') === 'false';
      } catch {
        return false;
      }
    }, { timeout: 20_000, message: 'dunst on the session bus' });

    await openAddPreview(app);
    await byTestId(app.browser, 'add-signin').click();
    const account = await waitForFirstAccount(app);
    await closeWindow(app);
    const [pid] = app.appPids();
    await revokeRefreshToken(app, account);

    await waitFor(() => Number(dunstctl('count', 'displayed')) >= 1, {
      timeout: 40_000,
      message: 'the notification shown by dunst',
    });
    assert.equal(reopened().length, 0, 'no window before the click');
    dunstctl('action', '0');
    await waitFor(() => reopened().length > 0, { timeout: 30_000, message: 'a window built after the click' });
    assert.match(reopened()[0], new RegExp(`on #/account/${account.id}$`), "the account's screen");
    assert.deepEqual(app.appPids(), [pid], 'the same app');
  });
});
