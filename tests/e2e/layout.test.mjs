// Every screen at 1280×800 and at 800×600: nothing wider than the window (no
// sideways scrolling, no clipped text boxes), every control labelled, and the
// Add server flow done with the keyboard alone. Screenshots of each screen at
// 800×600 land in tests/e2e/screenshots/.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addMachineAccount, byTestId, go, invoke, pageText, useApp, waitFor } from './harness.mjs';

/** What does not fit, and which controls have no accessible name, on the current screen. */
function audit(b) {
  return b.execute(() => {
    const width = document.documentElement.clientWidth;
    const problems = [];
    if (document.documentElement.scrollWidth > width + 1) {
      problems.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${width})`);
    }
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (r.width === 0 || style.visibility === 'hidden' || style.display === 'none') continue;
      if (el.closest('pre, .diff, [data-scrolls]')) continue; // code scrolls by design
      if (r.right > width + 1 && style.position !== 'fixed') {
        problems.push(`${el.tagName.toLowerCase()}${el.dataset.testid ? `[${el.dataset.testid}]` : ''} ends at ${Math.round(r.right)} px`);
      }
    }
    for (const el of document.querySelectorAll('button, a[href], input, select, textarea')) {
      if (el.type === 'hidden' || el.closest('[hidden]')) continue;
      const labelled = (el.getAttribute('aria-label') || '').trim()
        || (el.getAttribute('aria-labelledby') && document.getElementById(el.getAttribute('aria-labelledby')))
        || (el.id && document.querySelector(`label[for="${el.id}"]`))
        || el.closest('label')
        || (el.tagName !== 'INPUT' && el.tagName !== 'SELECT' && el.tagName !== 'TEXTAREA' && el.textContent.trim())
        || el.getAttribute('title');
      if (!labelled) problems.push(`unlabelled ${el.tagName.toLowerCase()}${el.dataset.testid ? `[${el.dataset.testid}]` : ''}`);
    }
    return [...new Set(problems)].slice(0, 20);
  });
}

describe('layout and keyboard', () => {
  const app = useApp({ servers: true });

  it('fits at 1280×800 and 800×600 on every screen, every control labelled', async () => {
    const b = app.browser;
    const machine = await addMachineAccount(app, 'a machine account with a rather long name to see that it wraps');
    const screens = [
      ['accounts', '#/accounts', 'account-row'],
      ['detail', `#/account/${machine.id}`, 'detail-header'],
      ['add', '#/add', 'add-url'],
      ['import', '#/import', null],
      ['machine', '#/machine', 'machine-url'],
      ['settings', '#/settings', 'settings-save'],
    ];
    const found = [];
    for (const [w, h] of [[1280, 800], [800, 600]]) {
      await b.setWindowSize(w, h);
      await waitFor(async () => (await b.execute(() => window.innerWidth)) <= w, { message: `window ${w} wide` });
      for (const [name, hash, testId] of screens) {
        await go(b, hash);
        if (testId) await byTestId(b, testId).waitForDisplayed({ timeout: 10_000 });
        await new Promise((r) => setTimeout(r, 300));
        for (const p of await audit(b)) found.push(`${w}×${h} ${name}: ${p}`);
        if (w === 800) await app.screenshot(`800x600-${name}`);
      }
    }
    assert.deepEqual(found, []);
  });

  it('adds a server with the keyboard alone', async () => {
    const b = app.browser;
    await b.setWindowSize(1280, 800);
    await go(b, '#/add');
    await byTestId(b, 'add-url').waitForDisplayed({ timeout: 10_000 });
    await b.execute(() => { document.activeElement?.blur(); document.body.focus(); });
    // Tab from the top of the page until the URL field has focus.
    let reached = false;
    for (let i = 0; i < 20 && !reached; i++) {
      await b.keys('Tab');
      reached = await b.execute(() => document.activeElement?.dataset.testid === 'add-url');
    }
    assert.ok(reached, 'the URL field is reachable with Tab');
    const ring = await b.execute(() => {
      const s = getComputedStyle(document.activeElement);
      return s.outlineStyle !== 'none' || s.boxShadow !== 'none';
    });
    assert.ok(ring, 'the focused field shows it has focus');
    // One key at a time: WebKitWebDriver merges repeated keys within one action.
    for (const ch of app.servers.mcp.current) await b.keys(ch);
    assert.equal(await byTestId(b, 'add-url').getValue(), app.servers.mcp.current, 'typed into the field');
    await b.keys('Enter');
    await byTestId(b, 'add-preview').waitForDisplayed({ timeout: 20_000 });
    // Tab on to the Sign in button and press it.
    // Signed in there already (the machine account above): the preview offers
    // a second account on purpose first; Enter on it, then on to Sign in.
    let onSignIn = false;
    for (let i = 0; i < 40 && !onSignIn; i++) {
      await b.keys('Tab');
      const focused = await b.execute(() => document.activeElement?.dataset.testid);
      if (focused === 'add-second-account') await b.keys('Enter');
      onSignIn = focused === 'add-signin';
    }
    assert.ok(onSignIn, 'Sign in is reachable with Tab');
    await b.keys('Enter');
    await byTestId(b, 'signin-waiting').waitForDisplayed({ timeout: 20_000 });
    const done = await waitFor(async () => (await invoke(b, 'list_accounts')).some((a) => a.kind === 'user'), {
      timeout: 60_000,
      message: 'the sign-in started from the keyboard completes',
    }).then(() => true, () => false);
    assert.ok(done, `the sign-in completes; the screen says: ${await pageText(b)}`);
    await app.screenshot('keyboard-sign-in');
  });
});
