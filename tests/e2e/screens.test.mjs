// The screens as a new user meets them, on a real account made through the
// real servers (oidc-provider, the MCP SDK server, Chromium approving), each
// check reading what is drawn: the Sign in button in view at the default
// size, errors that say what to do and clear when the input changes, a
// legacy server's missing metadata not shown as found, the activity timeline
// of a real account with its redacted exchanges, only the content pane
// scrolling, exports that run mcpauth by its absolute path and name the
// server URL, a second sign-in to a server made only on purpose, and a
// sign-out that leaves no entry called "already signed in", and a workload
// identity account that says where its JWT is read.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { byTestId, invoke, openAddPreview, pageText, useApp, waitFor, waitForFirstAccount, waitForText } from './harness.mjs';

const DEFAULT_SIZE = [1100, 720]; // tauri.conf.json

/** Where an element is drawn, against the window. */
const rectOf = (b, testid) =>
  b.execute((id) => {
    const el = document.querySelector(`[data-testid="${id}"]`);
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, height: innerHeight, width: innerWidth };
  }, testid);

async function resize(b, [w, h]) {
  await b.setWindowSize(w, h);
  await waitFor(async () => (await b.execute(() => window.innerWidth)) <= w, { message: `window ${w} wide` });
}

async function discover(b, url) {
  await b.execute(() => { location.hash = '#/add'; });
  const field = byTestId(b, 'add-url');
  await field.waitForDisplayed({ timeout: 10_000 });
  await field.setValue(url);
  await byTestId(b, 'add-discover').click();
}

describe('screens, tried as a new user would', () => {
  const app = useApp({ servers: true });
  let account;

  it('the preview shows Sign in without scrolling at the default size', async () => {
    const b = app.browser;
    await resize(b, DEFAULT_SIZE);
    await openAddPreview(app);
    const r = await rectOf(b, 'add-signin');
    assert.ok(r, 'a Sign in button');
    assert.ok(r.bottom <= r.height, `Sign in ends at ${Math.round(r.bottom)} px, the window is ${r.height} px tall`);
    assert.equal(await b.execute(() => document.getElementById('main').scrollTop), 0);
  });

  it('an unreachable server gets an error that says what to check, and it goes when the URL changes', async () => {
    const b = app.browser;
    await discover(b, 'http://127.0.0.1:1/mcp');
    await waitForText(b, 'cannot reach 127.0.0.1:1: is the server running? Check the URL');
    await byTestId(b, 'add-url').addValue('x');
    await waitFor(async () => !(await pageText(b)).includes('cannot reach 127.0.0.1:1'), {
      message: 'the error to clear when the URL changes',
    });
  });

  it('a URL that is not an MCP server says what was found there and what an MCP URL looks like', async () => {
    const b = app.browser;
    await discover(b, `${app.servers.issuer}/no-mcp-here`);
    await waitForText(b, 'nothing is at this path');
    await waitForText(b, 'such as https://mcp.example.com/mcp');
  });

  it('a URL without a scheme is taken as https, and the screen says so', async () => {
    const b = app.browser;
    await discover(b, 'mcp.example.invalid/mcp');
    await waitForText(b, 'No scheme was given, so MCP Auth assumed https://');
    assert.equal(await byTestId(b, 'add-url').getValue(), 'https://mcp.example.invalid/mcp');
  });

  it("a legacy server's missing resource metadata is not shown as found", async () => {
    const b = app.browser;
    await discover(b, app.servers.mcp.legacy);
    await byTestId(b, 'add-preview').waitForDisplayed({ timeout: 20_000 });
    await byTestId(b, 'add-steps').click(); // open "How MCP Auth found this"
    const states = await b.execute(() =>
      [...document.querySelectorAll('[data-testid="add-steps"] li')].map((li) => [li.dataset.state, li.innerText]));
    assert.equal(states[1][0], 'absent', `step 2 is not a tick: ${JSON.stringify(states)}`);
    assert.match(states[1][1], /not published/);
    assert.equal(states[0][0], 'done');
  });

  it('signs in through the browser; the timeline shows the real steps and expands to redacted exchanges', async () => {
    const b = app.browser;
    await openAddPreview(app);
    await byTestId(b, 'add-signin').click();
    account = await waitForFirstAccount(app);
    await b.execute((id) => { location.hash = `#/account/${id}`; }, account.id);
    const timeline = byTestId(b, 'activity');
    await timeline.waitForDisplayed({ timeout: 10_000 });
    const text = await pageText(b);
    assert.ok(!text.includes('Nothing yet.'), `the timeline of a real account has entries:\n${text}`);
    // Open the first entry's requests, then its first request.
    await b.execute(() => {
      const outer = document.querySelector('[data-testid="activity-exchanges"]');
      outer.open = true;
      outer.querySelector('details').open = true;
    });
    const shown = await b.execute(() => document.querySelector('[data-testid="activity-exchanges"] pre')?.innerText ?? '');
    assert.match(shown, /accept: /i, 'the request headers are drawn');
    const all = await b.execute(() => document.querySelector('[data-testid="activity"]').innerText);
    assert.ok(!all.includes('eyJ'), 'no token in the timeline');
  });

  it('only the content pane scrolls: End and Page Down never scroll the window away', async () => {
    const b = app.browser;
    for (const size of [[800, 600], DEFAULT_SIZE]) {
      await resize(b, size);
      await b.execute((id) => { location.hash = `#/account/${id}`; }, account.id);
      await byTestId(b, 'activity').waitForDisplayed({ timeout: 10_000 });
      await b.execute(() => document.getElementById('main').focus());
      for (const key of ['End', 'End', 'PageDown', 'PageDown', 'PageDown']) await b.keys(key);
      await new Promise((r) => setTimeout(r, 300)); // smooth scrolling settles
      const seen = await b.execute(() => ({
        window: document.scrollingElement.scrollTop,
        body: document.body.scrollTop,
        nav: document.querySelector('[data-testid="nav-accounts"]').getBoundingClientRect().top,
        pane: document.getElementById('main').scrollTop,
      }));
      assert.equal(seen.window, 0, `${size}: the window itself did not scroll (${JSON.stringify(seen)})`);
      assert.equal(seen.body, 0);
      assert.ok(seen.nav >= 0 && seen.nav < 200, `${size}: the navigation is still in view (${JSON.stringify(seen)})`);
      assert.ok(seen.pane > 0, `${size}: the content pane scrolled instead (${JSON.stringify(seen)})`);
    }
    await resize(b, DEFAULT_SIZE);
  });

  it('a notice that comes or goes, or a ticked box, moves nothing on the screen', async () => {
    const b = app.browser;
    await b.execute((id) => { location.hash = `#/account/${id}`; }, account.id);
    await byTestId(b, 'detail-upgrade').waitForDisplayed({ timeout: 10_000 });
    // Where every control of the screen is drawn in the content pane (a click
    // that scrolls a box into view moves no control against the page).
    const layout = () => b.execute(() => {
      const out = {};
      const pane = document.getElementById('main');
      for (const el of document.querySelectorAll('#main .content button, #main .content input, #main .content h2, #main .content h3')) {
        const r = el.getBoundingClientRect();
        out[el.dataset.testid || el.id || `${el.tagName}:${el.textContent.trim().slice(0, 30)}`] = [Math.round(r.left), Math.round(r.top + pane.scrollTop)];
      }
      return out;
    });
    const moved = (a, z) => Object.keys(a).filter((k) => k in z && String(a[k]) !== String(z[k])).map((k) => `${k} ${a[k]} → ${z[k]}`);
    const still = await layout();

    await app.launchSecondInstance('mcpauth://oauth/callback?code=stolen&state=forged');
    const banner = byTestId(b, 'banner-unsolicited');
    await banner.waitForDisplayed({ timeout: 20_000 });
    const r = await b.execute(() => {
      const el = document.querySelector('[data-testid="banner-unsolicited"]').getBoundingClientRect();
      return { top: el.top, bottom: el.bottom, height: innerHeight };
    });
    assert.ok(r.top >= 0 && r.bottom <= r.height, `the notice is in the window: ${JSON.stringify(r)}`);
    assert.deepEqual(moved(still, await layout()), [], 'nothing moved when the notice came');
    await banner.$('button.close').click();
    await waitFor(async () => !(await b.execute(() => !!document.querySelector('[data-testid="banner-unsolicited"]'))), {
      message: 'the notice to go when dismissed',
    });
    assert.deepEqual(moved(still, await layout()), [], 'nothing moved when the notice went');

    const boxes = await b.execute(() =>
      [...document.querySelectorAll('#main form input[type="checkbox"]')].map((el) => el.dataset.testid));
    assert.ok(boxes.length > 0, 'the account has scopes to ask for');
    for (const box of boxes) {
      await byTestId(b, box).click();
      assert.deepEqual(moved(still, await layout()), [], `nothing moved when ${box} was ticked`);
      await byTestId(b, box).click();
    }
  });

  it('an export runs mcpauth by its absolute path and names the server URL', async () => {
    const b = app.browser;
    await b.execute((id) => { location.hash = `#/account/${id}`; }, account.id);
    await byTestId(b, 'export-preview-claude-desktop').click();
    const command = byTestId(b, 'export-command-claude-desktop');
    await command.waitForDisplayed({ timeout: 10_000 });
    const path = (await command.getText()).replace(/^Runs /, '').replace(/\.$/, '');
    assert.ok(path.startsWith('/') && path.endsWith('/mcpauth'), `an absolute path: ${path}`);
    assert.ok(existsSync(path), `${path} exists`);
    await byTestId(b, 'export-write-claude-desktop').click();
    await byTestId(b, 'export-message-claude-desktop').waitForDisplayed({ timeout: 10_000 });
    const file = join(app.home, '.config', 'Claude', 'claude_desktop_config.json');
    const written = JSON.parse(readFileSync(file, 'utf8'));
    const entry = Object.values(written.mcpServers)[0];
    assert.deepEqual(entry, { command: path, args: ['proxy', app.servers.mcp.current] });
  });

  it('adding a server one is signed in to already says so, and opens the account', async () => {
    const b = app.browser;
    await openAddPreview(app);
    const card = byTestId(b, 'add-existing');
    await card.waitForDisplayed({ timeout: 10_000 });
    assert.match(await card.getText(), /You already have an account here/);
    assert.equal(await byTestId(b, 'add-signin').isExisting(), false, 'no Sign in until asked for a second account');
    await byTestId(b, 'add-open-existing').click();
    await waitFor(async () => (await b.execute(() => location.hash)) === `#/account/${account.id}`, {
      message: 'the account opened',
    });
    // And a second account on purpose shows the form.
    await openAddPreview(app);
    await byTestId(b, 'add-second-account').click();
    await byTestId(b, 'add-signin').waitForDisplayed({ timeout: 10_000 });
  });

  it('after a sign-out, Import does not call the exported entry signed in', async () => {
    const b = app.browser;
    await b.execute((id) => { location.hash = `#/account/${id}`; }, account.id);
    await byTestId(b, 'detail-signout').click();
    const panel = byTestId(b, 'signout-confirm-panel');
    await panel.waitForDisplayed({ timeout: 10_000 });
    assert.match(await panel.getText(), /work again once you sign in to it anew/);
    await byTestId(b, 'detail-signout-confirm').click();
    await waitFor(async () => (await invoke(b, 'list_accounts')).length === 0, { message: 'the account gone' });
    await byTestId(b, 'nav-import').click();
    const row = byTestId(b, 'import-row');
    await row.waitForDisplayed({ timeout: 10_000 });
    assert.equal(await row.getAttribute('data-url'), app.servers.mcp.current);
    assert.equal(await byTestId(b, 'import-signed-in').isExisting(), false, await pageText(b));
  });

  it('a workload identity account made with the command line says where each token request reads its JWT', async () => {
    const b = app.browser;
    const made = await fetch(`${app.servers.issuer}/__test/workload-token`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sub":"e2e-workload"}',
    });
    const file = join(app.work, 'platform-token');
    writeFileSync(file, (await made.json()).assertion);
    const login = spawnSync(join(dirname(app.appBinary), 'mcpauth'), [
      'login', app.servers.mcp.current, '--grant', 'jwt-bearer', '--client-id', 'mcpauth-workload',
      '--scope', 'mcp:read', '--assertion-file', file, '--json',
    ], { env: app.env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(login.status, 0, login.stderr);
    const { id } = JSON.parse(login.stdout);
    await b.execute((to) => { location.hash = `#/account/${to}`; }, id);
    const source = byTestId(b, 'assertion-source');
    await source.waitForDisplayed({ timeout: 10_000 });
    const drawn = (await source.getText()).replace(/\s+/g, ' ');
    assert.ok(drawn.includes(`read at every token request from the file ${file}. MCP Auth keeps no copy of it.`), drawn);
    assert.match(await byTestId(b, 'detail-header').getText(), /workload identity/);
  });
});
