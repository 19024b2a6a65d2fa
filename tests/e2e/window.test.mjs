// The window a person closes and opens all day. Closing it (as a window
// manager's close button does) destroys the web view: its web process and
// WebKit's network process end, and the app runs on in the tray alone. Every
// way of showing it again builds a new window, on the screen it was on: the
// tray's "Show MCP Auth", a second launch (a desktop launcher), a deep link.
//
// WebKitWebDriver ends its session with the window it drove, and cannot
// adopt a window the app builds later, so what the new window drew is read
// from the app's own log (MCPAUTH_LOG: "window reopened: N accounts rendered
// … on #/screen", sent by the page once its list is painted), the X screen
// and the processes. Memory figures are bench/app.sh's (BENCHMARKS.md).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appWindows, byTestId, closeWindow, useApp, waitFor, webkitChildren } from './harness.mjs';
import { startStatusNotifierWatcher } from './sni.mjs';

/** How many of the app's windows are mapped (shown). */
const viewableWindows = (env, pid) => appWindows(env, pid).filter((w) => w.mapState === 'IsViewable').length;

describe('the window closes to the tray and opens again', () => {
  let sni;
  before(async () => {
    sni = await startStatusNotifierWatcher();
  });
  const app = useApp({ servers: true, env: { MCPAUTH_LOG: 'info' }, screenshots: false });
  after(async () => {
    await sni?.stop();
  });

  const reopenLines = () =>
    readFileSync(join(app.logDir, 'driver.log'), 'utf8').match(/window reopened: .*/g) ?? [];

  /** Waits for the n-th re-opened window: mapped, with WebKit running, its list painted. */
  const waitForReopen = async (pid, n) => {
    await waitFor(() => reopenLines().length >= n, { timeout: 30_000, message: `re-open number ${n} in the app's log` });
    await waitFor(() => viewableWindows(app.env, pid) === 1, { message: 'the new window mapped' });
    assert.equal(webkitChildren(pid).length, 2, 'a web and a network process again');
    return reopenLines()[n - 1];
  };

  it('closing frees the web view; the tray shows the window again on the screen it was on', async () => {
    const b = app.browser;
    const [pid] = app.appPids();
    await waitFor(async () => webkitChildren(pid).length === 2, { message: 'the web and network processes' });
    await byTestId(b, 'nav-settings').click();
    await byTestId(b, 'settings-save').waitForDisplayed({ timeout: 10_000 });

    await closeWindow(app);
    assert.equal(viewableWindows(app.env, pid), 0, 'no window');
    let item = null;
    await waitFor(async () => {
      for (const it of sni.items()) if (await sni.connectionPid(it.sender) === pid) item = it;
      return item;
    }, { timeout: 20_000, message: 'the tray item, still there' });
    // The app runs on alone for a while: nothing comes back by itself.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(webkitChildren(pid), []);
    assert.deepEqual(app.appPids(), [pid]);

    const menu = await sni.menuLayout(item);
    await sni.clickMenuItem(item, menu.find((m) => m.label === 'Show MCP Auth').id);
    const line = await waitForReopen(pid, 1);
    assert.match(line, /0 accounts rendered \d+ ms after it was asked for, on #\/settings$/);
  });

  it('a second launch while closed opens the window', async () => {
    const [pid] = app.appPids();
    await closeWindow(app);
    const second = await app.launchSecondInstance('');
    assert.equal(second.code, 0, `the second launch handed over and exited: ${second.stderr}`);
    assert.ok(!second.timedOut, 'single-instance forwarded the launch');
    await waitForReopen(pid, 2);
    assert.deepEqual(app.appPids(), [pid], 'the same app, no second one');
  });

  it('a sign-in link while closed opens the window', async () => {
    const [pid] = app.appPids();
    await closeWindow(app);
    const link = `mcpauth://signin?url=${encodeURIComponent(app.servers.mcp.current)}`;
    const second = await app.launchSecondInstance(link);
    assert.equal(second.code, 0);
    await waitForReopen(pid, 3);
  });
});
