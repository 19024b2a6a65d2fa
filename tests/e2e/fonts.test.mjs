// The desktop's UI font: on Linux the page asks only for the generic families
// (ui/src/styles.css says why), and the app makes GTK's font setting
// (`gtk-font-name`) the web view's sans-serif (src-tauri/src/startup.rs).
// Here GTK's font is set to a serif face, which no default would pick, and
// the page's sans-serif must measure like that face and unlike fontconfig's
// own sans-serif.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { useApp } from './harness.mjs';

describe('fonts', () => {
  const app = useApp({ launch: false });

  it("uses the desktop's UI font as the page's sans-serif", async () => {
    const gtk = join(app.home, '.config', 'gtk-3.0');
    mkdirSync(gtk, { recursive: true });
    writeFileSync(join(gtk, 'settings.ini'), '[Settings]\ngtk-font-name=DejaVu Serif 11\n');
    await app.launch();
    const widths = await app.browser.execute(() => {
      const text = 'Signed in to mcp.example.com as alice, 0123456789';
      const ctx = document.createElement('canvas').getContext('2d');
      const width = (font) => {
        ctx.font = `16px ${font}`;
        return ctx.measureText(text).width;
      };
      return {
        page: width('sans-serif'),
        desktop: width('"DejaVu Serif"'),
        other: width('"DejaVu Sans"'),
        os: document.documentElement.dataset.os,
        body: getComputedStyle(document.body).fontFamily,
      };
    });
    assert.equal(widths.os, 'linux', JSON.stringify(widths));
    assert.equal(widths.body, 'sans-serif', JSON.stringify(widths));
    assert.notEqual(widths.desktop, widths.other, `the two faces differ: ${JSON.stringify(widths)}`);
    assert.equal(widths.page, widths.desktop, `sans-serif is GTK's font: ${JSON.stringify(widths)}`);
  });
});
