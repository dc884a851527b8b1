// electron-builder configuration (packaging needs an Electron distribution, which our machines cannot
// download: this file is the spec the release pipeline uses). `scripts/download-claude-binary.ts` fills
// resources/bin/<platform>-<arch>/ before packaging; extraResources copies it to <resources>/bin, where
// getBundledClaudeBinaryPath() looks in a packaged app.
const config = {
  appId: "sh.superset.desktop",
  productName: "Superset",
  directories: { output: "release", buildResources: "build" },
  files: ["out/**/*", "package.json"],
  asarUnpack: ["node_modules/@anthropic-ai/claude-agent-sdk*/**"],
  extraResources: [
    {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: electron-builder expands these macros itself
      from: "resources/bin/${platform}-${arch}",
      to: "bin",
      filter: ["**/*"],
    },
  ],
  mac: { target: ["dmg", "zip"], hardenedRuntime: true },
  win: { target: ["nsis"] },
  linux: { target: ["AppImage"] },
};

export default config;
