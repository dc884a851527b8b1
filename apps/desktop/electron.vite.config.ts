import { defineConfig } from "electron-vite";

// Main and preload bundles. The renderer (chat screens) arrives with the desktop UI issue.
// `npx electron-vite build` works offline; running the app needs the Electron binary, which cannot be
// downloaded on our machines, so no test or script here depends on it.
export default defineConfig({
  main: {
    build: {
      rollupOptions: { input: { index: "src/main/index.ts" } },
      // Dependencies stay in node_modules (the SDK resolves its native CLI package at run time); the demo
      // model is workspace TypeScript source, so it is bundled.
      externalizeDeps: { exclude: ["@superset/fake-anthropic"] },
    },
  },
  preload: {
    build: { rollupOptions: { input: { index: "src/preload/index.ts" } } },
  },
});
