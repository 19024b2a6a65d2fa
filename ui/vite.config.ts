import { defineConfig } from "vite";

// The Tauri shell loads the built files from ui/dist (see src-tauri/tauri.conf.json).
export default defineConfig({
  // Relative asset URLs work both from Tauri's custom protocol and from a file.
  base: "./",
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
    host: "127.0.0.1",
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.40+ (Debian 12) and WebView2 / Safari 16 all handle ES2021.
    target: ["es2021", "safari16"],
    sourcemap: false,
  },
});
