import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ClaudeCoreError } from "./errors";

export const SUPPORTED_PLATFORMS = ["darwin-arm64", "darwin-x64", "linux-x64", "win32-x64"] as const;
export type ClaudePlatform = (typeof SUPPORTED_PLATFORMS)[number];

/** The release platform of this machine (or of the given platform and arch). */
export function detectClaudePlatform(
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): ClaudePlatform {
  const key = `${platform}-${arch}`;
  if ((SUPPORTED_PLATFORMS as readonly string[]).includes(key)) return key as ClaudePlatform;
  throw new ClaudeCoreError(
    "unsupported_platform",
    `Claude Code binaries are bundled for ${SUPPORTED_PLATFORMS.join(", ")}; this machine is ${key}`,
  );
}

export function claudeBinaryName(platform: NodeJS.Platform = process.platform): string {
  return platform === "win32" ? "claude.exe" : "claude";
}

export interface AppLocation {
  /** Electron's `app.isPackaged`. */
  isPackaged: boolean;
  /** Electron's `app.getAppPath()` (apps/desktop in development). */
  appPath: string;
  /** `process.resourcesPath` of the packaged app. */
  resourcesPath?: string;
  platform?: NodeJS.Platform;
  arch?: string;
}

/**
 * Where the bundled binary is: `resources/bin/<platform>-<arch>/claude` in development (filled by
 * scripts/download-claude-binary.ts), `<resources>/bin/claude` in a packaged app (electron-builder's
 * extraResources copies it there).
 */
export function getBundledClaudeBinaryPath(location: AppLocation): string {
  const platform = location.platform ?? process.platform;
  const arch = location.arch ?? process.arch;
  const dir = location.isPackaged
    ? join(location.resourcesPath ?? "", "bin")
    : join(location.appPath, "resources", "bin", `${platform}-${arch}`);
  return join(dir, claudeBinaryName(platform));
}

/** The binary that the Agent SDK's npm platform package ships (`@anthropic-ai/claude-agent-sdk-<platform>`). */
export function getSdkPackageClaudeBinaryPath(
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): string | null {
  const require = createRequire(import.meta.url);
  try {
    const manifest = require.resolve(`@anthropic-ai/claude-agent-sdk-${platform}-${arch}/package.json`);
    const binary = join(dirname(manifest), claudeBinaryName(platform));
    return existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}

export type ClaudeExecutable = { path: string; source: "bundled" | "sdk-package" };

/** The bundled binary when there is one, else (development) the SDK platform package's binary. */
export function resolveClaudeExecutable(location: AppLocation): ClaudeExecutable | null {
  const bundled = getBundledClaudeBinaryPath(location);
  if (existsSync(bundled)) return { path: bundled, source: "bundled" };
  const fromSdk = getSdkPackageClaudeBinaryPath(location.platform, location.arch);
  return fromSdk ? { path: fromSdk, source: "sdk-package" } : null;
}
