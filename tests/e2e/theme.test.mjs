// Light and dark: the window follows the desktop's colour scheme, and text
// stays readable in both (WCAG AA: 4.5:1 between text and what is behind it).
//
// How the choice reaches the page, as on a real desktop: GNOME's Settings →
// Appearance → Dark (and KDE's colour scheme, through its portal) sets
// `org.gnome.desktop.interface color-scheme`, which xdg-desktop-portal
// publishes as `org.freedesktop.appearance color-scheme` (org.freedesktop.
// portal.Settings, 1 = prefer dark). Tauri's windowing library (tao, with its
// default `dbus` feature) reads that when it creates the window and follows
// its SettingChanged signal, and sets GTK's gtk-application-prefer-dark-theme
// to match; WebKitGTK derives `prefers-color-scheme` from that GTK setting
// (then from GTK_THEME ending in ":dark"/"-dark", then from the GTK theme's
// name). So this test does what the desktop does: `gsettings set
// org.gnome.desktop.interface color-scheme prefer-dark` in the test session
// (dconf → xdg-desktop-portal-gtk, both started on the session bus), checks
// that the portal reports it, and launches the app. Because tao overwrites
// GTK's prefer-dark setting with the portal's answer whenever a portal
// answers, a GTK settings.ini with gtk-application-prefer-dark-theme=true
// alone would NOT make this app dark on such a desktop. GTK_THEME (a debugging
// override) is removed from the app's environment so that it cannot decide.
//
// Checked in each scheme: the media query; the computed colours of the page,
// the navigation, buttons, a text box, a status chip and a card (dark
// surfaces and light text in dark, the reverse in light, and different from
// the other scheme); and every piece of visible text on three screens (the
// accounts list with one account; Add server empty, after a failed discovery
// and with a server found; Settings), an "Ignored a sign-in answer" banner,
// placeholders, and samples of the global colour classes (chips in every
// tone, badges, buttons) and of every banner kind, against the colour
// actually behind it: 4.5:1 at least (aria-hidden glyphs such as banner
// icons: 3:1, WCAG's figure for graphics); buttons also under the pointer
// (:hover). Last, a live switch back to light while the app runs.
// A screenshot of each scheme: tests/e2e/screenshots/theme--*.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { addMachineAccount, byTestId, invoke, useApp, waitFor } from './harness.mjs';

// The desktop decides here, not the GTK_THEME debugging override (removed
// before useApp copies this environment for the app).
delete process.env.GTK_THEME;

// ---------------------------------------------------------------------------
// Colours and WCAG contrast
// ---------------------------------------------------------------------------

/** {r, g, b, a} (0-255, alpha 0-1) from a computed CSS colour (rgb(), rgba(), color(srgb …), transparent). */
function parseColor(text) {
  const s = String(text).trim();
  if (s === 'transparent' || s === '') return { r: 0, g: 0, b: 0, a: 0 };
  let m = s.match(/^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)$/);
  if (m) {
    const a = m[4] === undefined ? 1 : m[4].endsWith('%') ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
    return { r: +m[1], g: +m[2], b: +m[3], a };
  }
  m = s.match(/^color\(srgb\s+([\d.e-]+)\s+([\d.e-]+)\s+([\d.e-]+)(?:\s*\/\s*([\d.]+%?))?\s*\)$/);
  if (m) {
    const a = m[4] === undefined ? 1 : m[4].endsWith('%') ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
    return { r: m[1] * 255, g: m[2] * 255, b: m[3] * 255, a };
  }
  throw new Error(`cannot parse the colour ${s}`);
}

/** `top` drawn over the opaque colour `bottom`. */
function over(top, bottom) {
  const a = top.a;
  return { r: top.r * a + bottom.r * (1 - a), g: top.g * a + bottom.g * (1 - a), b: top.b * a + bottom.b * (1 - a), a: 1 };
}

/** WCAG 2 relative luminance of an opaque colour. */
function luminance({ r, g, b }) {
  const lin = (v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG 2 contrast ratio of two opaque colours (1 to 21). */
function contrast(c1, c2) {
  const [hi, lo] = [luminance(c1), luminance(c2)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** The opaque colour behind an element: its background layers (innermost first) composited over the canvas. */
function backdrop(layers, canvas) {
  let color = canvas;
  for (const layer of [...layers].reverse()) color = over(parseColor(layer), color);
  return color;
}

const hex = ({ r, g, b }) => `#${[r, g, b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;

// ---------------------------------------------------------------------------
// What the page shows (runs in the webview)
// ---------------------------------------------------------------------------

/**
 * Every visible element with text of its own (and every text box's value or
 * placeholder) on the current screen: its text colour and the background
 * layers behind it up to the root, innermost first.
 */
function collectText(b) {
  return b.execute(() => {
    const layersOf = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const bg = getComputedStyle(e).backgroundColor;
        if (bg && bg !== 'transparent' && bg !== 'rgba(0, 0, 0, 0)') layers.push(bg);
      }
      return layers;
    };
    const describe = (el) => {
      const id = el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : '';
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).filter((c) => !c.startsWith('svelte-')).join('.')}` : '';
      return `${el.tagName.toLowerCase()}${id}${cls}`;
    };
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      const st = getComputedStyle(el);
      return r.width > 1 && r.height > 1 && st.visibility !== 'hidden' && st.display !== 'none' && !el.closest('.sr-only');
    };
    // WebKit's getComputedStyle(el, '::placeholder') answers the element's own
    // colour, so the placeholder's comes from the app's ::placeholder rules (the
    // last one whose selector matches, in a media block that applies), resolved
    // in the element's context, else WebKit's default: darkGray (#a9a9a9, as
    // measured on a screenshot).
    const placeholderColor = (el) => {
      let declared = '';
      const walk = (rules) => {
        for (const rule of rules) {
          if (rule instanceof CSSMediaRule) {
            if (matchMedia(rule.conditionText || rule.media.mediaText).matches) walk(rule.cssRules);
          } else if (rule instanceof CSSStyleRule && rule.selectorText.includes('::placeholder')) {
            const applies = rule.selectorText.split(',').some((sel) => sel.includes('::placeholder')
              && el.matches(sel.replace(/::placeholder.*$/, '').trim() || '*'));
            if (applies && rule.style.getPropertyValue('color')) declared = rule.style.getPropertyValue('color');
          }
        }
      };
      for (const sheet of document.styleSheets) {
        try { walk(sheet.cssRules); } catch { /* not readable */ }
      }
      if (!declared) return 'rgb(169, 169, 169)';
      const probe = document.createElement('span');
      probe.style.color = declared;
      el.parentElement.append(probe);
      const color = getComputedStyle(probe).color;
      probe.remove();
      return color;
    };
    const out = [];
    for (const el of document.body.querySelectorAll('*')) {
      if (el.closest('svg, script, style, template') || !visible(el)) continue;
      const st = getComputedStyle(el);
      let opacity = 1;
      for (let e = el; e; e = e.parentElement) opacity *= parseFloat(getComputedStyle(e).opacity);
      const base = {
        what: describe(el),
        layers: layersOf(el),
        opacity,
        disabled: !!el.closest(':disabled, [aria-disabled="true"]'),
        decorative: !!el.closest('[aria-hidden="true"]'),
        fontSize: parseFloat(st.fontSize),
        fontWeight: parseInt(st.fontWeight, 10),
      };
      const own = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join('').replace(/\s+/g, ' ').trim();
      if (own) out.push({ ...base, text: own.slice(0, 60), color: st.color });
      if ((el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') && !['checkbox', 'radio', 'hidden'].includes(el.type)) {
        if (el.value) out.push({ ...base, text: `value of ${describe(el)}`, color: st.color });
        else if (el.placeholder) out.push({ ...base, text: `placeholder "${el.placeholder.slice(0, 40)}"`, color: placeholderColor(el) });
      }
    }
    return out;
  });
}

/** The computed colours of a few landmarks: the page, the navigation, buttons, a text box, a chip, a card. */
function landmarkColours(b) {
  return b.execute(() => {
    const pick = (sel) => {
      const el = document.querySelector(sel);
      if (!el) return null;
      const st = getComputedStyle(el);
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const bg = getComputedStyle(e).backgroundColor;
        if (bg && bg !== 'transparent' && bg !== 'rgba(0, 0, 0, 0)') layers.push(bg);
      }
      return { color: st.color, background: st.backgroundColor, layers };
    };
    return {
      root: pick('html'),
      body: pick('body'),
      nav: pick('nav'),
      navLink: pick('[data-testid=nav-accounts]'),
      button: pick('.btn:not(.btn-primary):not(.btn-link)'),
      primary: pick('.btn-primary'),
      chip: pick('[data-testid=status-chip]'),
      card: pick('[data-testid=account-row]'),
    };
  });
}

/**
 * Adds one of each global colour class (styles.css) to the current screen, in
 * a card, so that tones no screen shows right now are checked too; returns a
 * function that removes them.
 */
async function addSamples(b) {
  await b.execute(() => {
    const host = document.querySelector('main') || document.body;
    const card = document.createElement('div');
    card.className = 'card';
    card.id = 'theme-samples';
    const html = [];
    for (const tone of ['ok', 'busy', 'warn', 'error', 'muted']) html.push(`<span class="chip tone-${tone}">tone ${tone}</span>`);
    html.push('<span class="badge">badge</span>', '<span class="badge badge-accent">badge accent</span>', '<span class="badge badge-ok">badge ok</span>');
    for (const btn of ['btn', 'btn btn-primary', 'btn btn-danger', 'btn btn-danger-solid', 'btn-link']) html.push(`<button type="button" class="${btn}">${btn}</button>`);
    html.push('<p class="muted">muted text</p>', '<div class="field"><span class="hint">a hint</span></div>', '<p class="form-error">a form error</p>', '<a href="#/settings">a link</a>');
    html.push('<div class="empty-state"><p>empty state</p><p class="lead">lead</p></div>');
    card.innerHTML = html.join(' ');
    // The banner component's other kinds: clones of the real banner on screen
    // (they keep its Svelte scope class, so its scoped styles apply).
    const real = document.querySelector('.banner');
    for (const kind of ['success', 'error', 'warning', 'info', 'unsolicited']) {
      if (!real) break;
      const clone = real.cloneNode(true);
      clone.className = clone.className.replace(/\bbanner-[a-z]+\b/, `banner-${kind}`);
      clone.removeAttribute('data-testid');
      card.append(clone);
    }
    host.prepend(card);
  });
  return () => b.execute(() => document.getElementById('theme-samples')?.remove());
}

// ---------------------------------------------------------------------------
// The desktop's colour scheme
// ---------------------------------------------------------------------------

/** What GNOME's Settings does: org.gnome.desktop.interface color-scheme (null = back to the default). */
function setDesktopScheme(value) {
  if (value) execFileSync('gsettings', ['set', 'org.gnome.desktop.interface', 'color-scheme', value]);
  else execFileSync('gsettings', ['reset', 'org.gnome.desktop.interface', 'color-scheme']);
}

/** org.freedesktop.appearance color-scheme as xdg-desktop-portal reports it (0 none, 1 dark, 2 light). */
function portalScheme() {
  const out = execFileSync('gdbus', ['call', '--session', '--dest', 'org.freedesktop.portal.Desktop',
    '--object-path', '/org/freedesktop/portal/desktop', '--method', 'org.freedesktop.portal.Settings.Read',
    'org.freedesktop.appearance', 'color-scheme'], { encoding: 'utf8', timeout: 10_000 });
  return Number(out.match(/uint32 (\d+)/)?.[1]);
}

const isDark = (b) => b.execute(() => matchMedia('(prefers-color-scheme: dark)').matches);

describe('light and dark', () => {
  const app = useApp({ servers: true, launch: false });
  after(() => setDesktopScheme(null)); // the session is shared with the other test files

  /** Landmark colours per scheme, to compare the two. */
  const seen = {};

  /** Every text on three screens (plus a banner and the samples) in the current scheme; the failures. */
  const audit = async (b) => {
    const failures = [];
    let checked = 0;
    let hovered = 0;
    const check = async (screen) => {
      const canvas = (await b.execute(() => matchMedia('(prefers-color-scheme: dark)').matches)) ? { r: 0, g: 0, b: 0, a: 1 } : { r: 255, g: 255, b: 255, a: 1 };
      for (const t of await collectText(b)) {
        if (t.disabled) continue; // WCAG exempts inactive controls
        const bg = backdrop(t.layers, canvas);
        const fg = over({ ...parseColor(t.color), a: parseColor(t.color).a * t.opacity }, bg);
        const ratio = contrast(fg, bg);
        const min = t.decorative ? 3 : 4.5;
        checked++;
        if (ratio < min) failures.push(`${screen}: ${t.what} "${t.text}" ${hex(fg)} on ${hex(bg)} = ${ratio.toFixed(2)}:1 < ${min}:1`);
      }
    };
    for (const [screen, hash, testId] of [['accounts', '#/accounts', 'account-row'], ['add', '#/add', 'add-url'], ['settings', '#/settings', 'settings-save']]) {
      await b.execute((h) => { location.hash = h; }, hash);
      await byTestId(b, testId).waitForDisplayed({ timeout: 10_000 });
      await check(screen);
      if (screen === 'add') {
        // A discovery that fails (nothing listens on port 9), then one that finds the test server.
        const url = byTestId(b, 'add-url');
        await url.setValue('http://127.0.0.1:9/mcp');
        await byTestId(b, 'add-discover').click();
        await b.$('[data-testid=banner-error] [data-state=failed]').waitForDisplayed({ timeout: 20_000 });
        await check('add, discovery failed');
        await url.clearValue();
        await url.setValue(app.servers.mcp.current);
        await byTestId(b, 'add-discover').click();
        await byTestId(b, 'add-preview').waitForDisplayed({ timeout: 20_000 });
        await check('add, server found');
      }
      if (screen === 'accounts') {
        const remove = await addSamples(b);
        await check('samples');
        // Buttons under the pointer (their :hover colours), moved there through WebDriver.
        for (const button of await b.$$('#theme-samples button, #theme-samples .btn, .btn-primary')) {
          if (!(await button.isDisplayed())) continue;
          await button.moveTo();
          const t = await b.execute((el) => {
            const layers = [];
            for (let e = el; e; e = e.parentElement) {
              const bg = getComputedStyle(e).backgroundColor;
              if (bg && bg !== 'transparent' && bg !== 'rgba(0, 0, 0, 0)') layers.push(bg);
            }
            return { what: el.className, text: el.textContent.trim(), color: getComputedStyle(el).color, layers, hovered: el.matches(':hover') };
          }, button);
          if (!t.hovered) continue;
          hovered++;
          const canvas = { r: 255, g: 255, b: 255, a: 1 };
          const bg = backdrop(t.layers, canvas);
          const ratio = contrast(over(parseColor(t.color), bg), bg);
          checked++;
          if (ratio < 4.5) failures.push(`hover: button.${t.what.replace(/ /g, '.')} "${t.text}" ${hex(parseColor(t.color))} on ${hex(bg)} = ${ratio.toFixed(2)}:1 < 4.5:1`);
        }
        await b.performActions([{ type: 'pointer', id: 'mouse', parameters: { pointerType: 'mouse' }, actions: [{ type: 'pointerMove', x: 5, y: 5, origin: 'viewport' }] }]);
        await remove();
      }
    }
    return { failures, checked, hovered };
  };

  const runScheme = async (scheme) => {
    if (app.browser) await app.quit();
    setDesktopScheme(scheme === 'dark' ? 'prefer-dark' : null);
    // The desktop's side of the chain: the portal publishes it.
    await waitFor(() => portalScheme() === (scheme === 'dark' ? 1 : 0), { message: `the portal to report ${scheme}` });
    await app.launch();
    const b = app.browser;
    assert.equal(app.env.GTK_THEME, undefined, 'GTK_THEME must not decide');
    assert.equal(await isDark(b), scheme === 'dark', 'prefers-color-scheme');

    if ((await invoke(b, 'list_accounts')).length === 0) {
      await addMachineAccount(app, 'ci bot');
    }
    // A banner: a sign-in answer nobody asked for, handed over as the browser would.
    const r = await app.launchSecondInstance('mcpauth://oauth/callback?code=theme-test&state=unknown');
    assert.equal(r.code, 0);
    await byTestId(b, 'banner-unsolicited').waitForDisplayed({ timeout: 10_000 });

    await b.execute(() => { location.hash = '#/accounts'; });
    await byTestId(b, 'account-row').waitForDisplayed({ timeout: 10_000 });
    const colours = await landmarkColours(b);
    seen[scheme] = colours;

    // The page really is in this scheme: surfaces dark and text light, or the reverse.
    const canvas = scheme === 'dark' ? { r: 0, g: 0, b: 0, a: 1 } : { r: 255, g: 255, b: 255, a: 1 };
    for (const name of ['root', 'nav', 'button', 'card']) {
      assert.ok(colours[name], `${name} found`);
      const bg = backdrop(colours[name].layers, canvas);
      const fg = parseColor(colours[name].color);
      const [lb, lf] = [luminance(bg), luminance(fg)];
      if (scheme === 'dark') {
        assert.ok(lb < 0.05 && lf > 0.5, `${name} in dark: background ${hex(bg)} (L ${lb.toFixed(3)}), text ${hex(fg)} (L ${lf.toFixed(3)})`);
      } else {
        assert.ok(lb > 0.8 && lf < 0.05, `${name} in light: background ${hex(bg)} (L ${lb.toFixed(3)}), text ${hex(fg)} (L ${lf.toFixed(3)})`);
      }
    }

    const { failures, checked, hovered } = await audit(b);
    console.log(`# ${scheme}: ${checked} texts checked, ${hovered} buttons under the pointer`);
    assert.ok(checked > 40, `only ${checked} texts checked`);
    assert.ok(hovered >= 5, `only ${hovered} buttons hovered`);
    assert.deepEqual(failures, [], `text below WCAG AA contrast in ${scheme}`);

    // Left on the accounts list for the screenshot (afterEach).
    await b.execute(() => { location.hash = '#/accounts'; });
    await byTestId(b, 'account-row').waitForDisplayed({ timeout: 10_000 });
  };

  it('light: the desktop prefers no dark style', () => runScheme('light'));

  it('dark: the desktop prefers dark', async () => {
    await runScheme('dark');
    // Different from light wherever it matters.
    for (const name of ['root', 'body', 'nav', 'navLink', 'button', 'primary', 'chip', 'card']) {
      assert.notDeepEqual(seen.dark[name], seen.light[name], `${name} looks the same in light and dark`);
    }
  });

  it('switches back to light live when the desktop does', async () => {
    const b = app.browser;
    await b.execute(() => { location.hash = '#/accounts'; });
    await byTestId(b, 'account-row').waitForDisplayed({ timeout: 10_000 });
    assert.equal(await isDark(b), true);
    setDesktopScheme(null);
    await waitFor(() => isDark(b).then((dark) => !dark), { timeout: 10_000, message: 'the page to turn light' });
    const colours = await landmarkColours(b);
    assert.deepEqual(colours.root, seen.light.root);
    assert.deepEqual(colours.card, seen.light.card);
  });
});
