// The tray icon as a Linux panel sees it. Xvfb has no panel, so this file is
// the panel: before the app starts it owns org.kde.StatusNotifierWatcher on
// the session bus the harness gives the app (sni.mjs), the app's
// libayatana-appindicator registers its StatusNotifierItem there, and the test
// reads the item and its menu (com.canonical.dbusmenu) and clicks menu entries
// over D-Bus, as GNOME's AppIndicator extension or KDE's system tray would.
//
// Linux panels show no tooltip for these items, so the status summary must be
// the menu's first line (disabled): "MCP Auth: no accounts"; right after a
// sign-in in the window "1 account(s), all signed in" (the app's own change,
// which no scheduler event announces); then "1 need sign-in" once the grant is
// revoked at the authorization server (tokens live 6 s, so the scheduler
// refreshes at every tick and finds out). Last, a cold start in the tray
// (`--hidden`, as the login item starts it): the same summary, no window and
// no WebKit process until "Show MCP Auth" builds and maps the window, and
// "Quit" ends the app with status 0. That launch is the
// test's own child process (not WebDriver's), so its exit status can be read;
// its output goes to logs/tray/hidden-app.log.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  SCREENSHOT_DIR, appWindows, byTestId, invoke, openAddPreview, processEnv, revokeRefreshToken, saveScreenshot, useApp, waitFor,
  waitForFirstAccount, webkitChildren,
} from './harness.mjs';
import { startStatusNotifierWatcher } from './sni.mjs';

const SUMMARY = /^MCP Auth: /;

describe('tray', () => {
  let sni;
  /** The summary line the tray showed last (a cold start must show the same). */
  let lastSummary = null;

  // Before useApp's hook: the watcher must be on the bus when the app starts,
  // as a panel is on a real desktop.
  before(async () => {
    sni = await startStatusNotifierWatcher();
  });
  const app = useApp({ servers: { args: ['--access-token-ttl', '6'] } });
  after(async () => {
    await sni?.stop();
  });

  /** The registered item of the app process `pid`. */
  const itemOf = async (pid) => {
    let found = null;
    await waitFor(async () => {
      for (const item of sni.items()) {
        if (await sni.connectionPid(item.sender) === pid) found = item;
      }
      return found;
    }, { timeout: 20_000, message: `process ${pid}'s StatusNotifierItem` });
    return found;
  };

  /** Waits until the menu's first line reads `text` (or matches it); resolves to the menu. */
  const waitForSummary = async (item, text, timeout = 20_000) => {
    let menu = [];
    try {
      await waitFor(async () => {
        menu = await sni.menuLayout(item);
        return text instanceof RegExp ? text.test(menu[0]?.label) : menu[0]?.label === text;
      }, { timeout, message: `the tray menu's first line to read ${text}` });
    } catch (err) {
      err.message += `\nmenu: ${JSON.stringify(menu.map(({ id, label, enabled, type }) => ({ id, label, enabled, type })))}`;
      throw err;
    }
    lastSummary = menu[0].label;
    return menu;
  };

  it('registers with the panel; the menu starts with the summary, then Show and Quit', async () => {
    const [pid] = app.appPids();
    assert.ok(pid, 'the app runs');
    // The app is on this test's session bus (the harness passes it on).
    assert.equal(processEnv(pid).DBUS_SESSION_BUS_ADDRESS, process.env.DBUS_SESSION_BUS_ADDRESS);
    const item = await itemOf(pid);
    // libayatana-appindicator registers an object path on its own connection.
    assert.match(item.path, /^\/org\/ayatana\/NotificationItem\//);
    assert.deepEqual(sni.calls.filter((c) => c.member.endsWith('RegisterStatusNotifierItem')).map((c) => c.args),
      [[item.path]]);

    const props = await sni.itemProperties(item);
    assert.equal(props.Id, 'tray-icon tray app main'); // tray-icon's id for the app's tray "main"
    assert.equal(props.Category, 'ApplicationStatus');
    assert.equal(props.Status, 'Active'); // 'Passive' would hide it
    // tray-icon cannot set the item's Title; libayatana falls back to the program
    // name, which is what panels that show the Title (KDE's tooltip) show.
    assert.equal(props.Title, 'mcpauth-app');
    assert.match(props.Menu, /^\/.+\/Menu$/);
    // tray-icon writes the app's icon to a PNG file and names it as the icon.
    assert.deepEqual([...readFileSync(props.IconName).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

    const menu = await waitForSummary(item, 'MCP Auth: no accounts');
    assert.deepEqual(menu.map(({ label, enabled, type, visible }) => ({ label, enabled, type, visible })), [
      { label: 'MCP Auth: no accounts', enabled: false, type: 'standard', visible: true },
      { label: '', enabled: true, type: 'separator', visible: true },
      { label: 'Show MCP Auth', enabled: true, type: 'standard', visible: true },
      { label: 'Quit', enabled: true, type: 'standard', visible: true },
    ]);
  });

  it('the summary follows the accounts: signed in, then needing a new sign-in', async () => {
    const b = app.browser;
    const item = await itemOf(app.appPids()[0]);
    // Sign in through the UI (Chromium approves).
    await openAddPreview(app);
    await byTestId(b, 'add-signin').click();
    const account = await waitForFirstAccount(app);
    // Signed in: the tray says so at once (the app's own write, no scheduler
    // event needed), and stays so while the scheduler's refreshes succeed
    // (6 s tokens are refreshed at every tick).
    await waitForSummary(item, 'MCP Auth: 1 account(s), all signed in', 10_000);

    // Revoke the grant at the authorization server. Refresh tokens rotate at
    // every refresh, so revoke the one in the keyring until a refresh fails.
    let menu;
    for (let attempt = 1; ; attempt++) {
      await revokeRefreshToken(app, account);
      try {
        // The refresh fails: the scheduler's NeedsSignIn event reaches the tray.
        menu = await waitForSummary(item, 'MCP Auth: 1 account(s), 1 need sign-in', 8_000);
        break;
      } catch (err) {
        if (attempt === 4) throw err;
      }
    }
    assert.equal(menu[0].enabled, false);
    assert.equal((await invoke(b, 'account_detail', { id: account.id })).account.status.state, 'needs_sign_in');
  });

  it('started in the tray: Show MCP Auth opens the window, Quit ends the app with status 0', async () => {
    await app.quit();
    await sni.waitForNoItem(); // the old app's item left with its connection
    const log = openSync(join(app.logDir, 'hidden-app.log'), 'a');
    const child = spawn(app.appBinary, ['--hidden'], { env: app.env, stdio: ['ignore', log, log] });
    closeSync(log);
    const exited = once(child, 'exit');
    try {
      const item = await itemOf(child.pid);
      // The vault's state, read at start: the same line the last app showed.
      const menu = await waitForSummary(item, lastSummary ?? SUMMARY);
      // Hidden: no window at all, and so no web view and no WebKit process
      // (the tray alone; a window is built when it is shown).
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(appWindows(app.env, child.pid), []);
        assert.deepEqual(webkitChildren(child.pid), []);
        await new Promise((r) => setTimeout(r, 200));
      }

      await sni.clickMenuItem(item, menu.find((m) => m.label === 'Show MCP Auth').id);
      await waitFor(() => appWindows(app.env, child.pid).some((w) => w.mapState === 'IsViewable'), {
        message: 'the window mapped after Show MCP Auth',
      });
      // And painted: the X screen is no longer one flat colour (a flat 1280×1024 PNG is a few hundred bytes).
      const shot = join(SCREENSHOT_DIR, 'tray--shown-from-the-tray.png');
      await waitFor(async () => (await saveScreenshot(null, shot)) && statSync(shot).size > 12_000, {
        message: 'the shown window painted on the X screen',
      });

      await sni.clickMenuItem(item, menu.find((m) => m.label === 'Quit').id);
      const [code, signal] = await Promise.race([
        exited,
        new Promise((_, reject) => setTimeout(() => reject(new Error('the app did not exit within 10 s of Quit')), 10_000)),
      ]);
      assert.deepEqual({ code, signal }, { code: 0, signal: null });
      await sni.waitForNoItem();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
