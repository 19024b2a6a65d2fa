// Settings that reach outside the app: "Start MCP Auth when I log in" writes and
// removes the system's login item (an XDG autostart entry on Linux) that starts
// the app in the tray; the checkbox shows what is really there.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { byTestId, invoke, useApp, waitFor } from './harness.mjs';

describe('settings', () => {
  const app = useApp();

  it('turns start at login on and off through the login item', async () => {
    const b = app.browser;
    const entry = join(app.home, '.config', 'autostart', 'MCP Auth.desktop');
    assert.equal(existsSync(entry), false);
    await b.execute(() => { location.hash = '#/settings'; });
    const box = byTestId(b, 'settings-start-at-login');
    await box.waitForDisplayed({ timeout: 10_000 });
    assert.equal(await box.isSelected(), false);
    await box.click();
    await byTestId(b, 'settings-save').click();
    await byTestId(b, 'settings-saved').waitForDisplayed({ timeout: 10_000 });
    await waitFor(() => existsSync(entry), { message: 'the autostart entry' });
    const text = readFileSync(entry, 'utf8');
    assert.match(text, /^\[Desktop Entry\]/);
    assert.ok(text.includes(`Exec=${app.appBinary} --hidden`), text);
    assert.equal((await invoke(b, 'get_settings')).start_at_login, true);
    await app.screenshot('settings-start-at-login');

    // Removed elsewhere (the desktop's own settings): the app shows the truth.
    rmSync(entry);
    assert.equal((await invoke(b, 'get_settings')).start_at_login, false);

    // And turned off from the app: no entry left.
    await invoke(b, 'set_settings', {
      settings: { ...(await invoke(b, 'get_settings')), start_at_login: true },
    });
    assert.equal(existsSync(entry), true);
    await invoke(b, 'set_settings', {
      settings: { ...(await invoke(b, 'get_settings')), start_at_login: false },
    });
    assert.equal(existsSync(entry), false);
  });
});
