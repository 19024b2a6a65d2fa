/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The Tauri shell loads the built files from ui/dist (see src-tauri/tauri.conf.json).
export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  // Relative asset URLs work both from Tauri's custom protocol and from a file.
  base: "./",
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
    host: "127.0.0.1",
    // Tests read the backend's command list and permissions (src-tauri) as text.
    fs: mode === "test" ? { allow: [".", "../src-tauri"] } : undefined,
  },
  preview: {
    host: "127.0.0.1",
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.40+ (Debian 12) and WebView2 / Safari 16 all handle ES2021.
    target: ["es2021", "safari16"],
    sourcemap: false,
    // One script and one style sheet: the app's CSP allows only 'self', and
    // nothing is inlined into index.html.
    assetsInlineLimit: 0,
  },
  // Component tests mount Svelte's browser build in jsdom.
  resolve: mode === "test" ? { conditions: ["browser"] } : undefined,
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    restoreMocks: true,
    // Bounds for a loaded 2-core machine (a CI runner, a build beside the
    // tests): the tests wait for conditions (app.test.ts `until`, 10 s by the
    // clock), and a test is given room for such a wait and its mount.
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
}));
