import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, mkdir, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { claudeBinaryName, detectClaudePlatform } from "../src/main/lib/claude/binary";
import { ClaudeCoreError } from "../src/main/lib/claude/errors";

/** Claude Code's public release bucket (the plan's URL). Override with CLAUDE_RELEASE_BASE_URL. */
export const DEFAULT_RELEASE_BASE_URL =
  "https://storage.googleapis.com/claude-code-dist-86c565f3-f756-42ad-8dfa-d59b1c096819/claude-code-releases";

interface ManifestEntry {
  binary?: string;
  checksum: string;
  size?: number;
}

export interface DownloadOptions {
  baseUrl?: string;
  /** A release version, or a channel ("stable", "latest") whose file names the version. */
  version?: string;
  /** Folder that holds `bin/<platform>-<arch>/` (default apps/desktop/resources). */
  resourcesDir?: string;
  platform?: NodeJS.Platform;
  arch?: string;
  fetch?: typeof fetch;
}

export interface DownloadResult {
  status: "downloaded" | "up-to-date";
  version: string;
  path: string;
  sha256: string;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The CLI version that the installed Agent SDK was built against: the binary should match it. */
export function sdkClaudeCodeVersion(): string {
  const require = createRequire(import.meta.url);
  const manifest = require("@anthropic-ai/claude-agent-sdk/manifest.json") as { version: string };
  return manifest.version;
}

async function getOk(url: string, fetchImpl: typeof fetch): Promise<Response> {
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (error) {
    throw new ClaudeCoreError("download_failed", `GET ${url} failed: ${(error as Error).message}`);
  }
  if (!response.ok) throw new ClaudeCoreError("download_failed", `GET ${url} answered ${response.status}`);
  return response;
}

async function sha256OfFile(path: string): Promise<string | null> {
  try {
    const hash = createHash("sha256");
    await pipeline(createReadStream(path), hash);
    return hash.digest("hex");
  } catch {
    return null;
  }
}

/**
 * Downloads the Claude Code binary of this platform into `resources/bin/<platform>-<arch>/claude`, checked
 * against the release manifest's SHA-256. Idempotent: a binary already there with the right checksum is kept.
 * A failed or interrupted download, or a checksum mismatch, leaves nothing behind.
 */
export async function downloadClaudeBinary(options: DownloadOptions = {}): Promise<DownloadResult> {
  const fetchImpl = options.fetch ?? fetch;
  const baseUrl = (options.baseUrl ?? DEFAULT_RELEASE_BASE_URL).replace(/\/+$/, "");
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const releasePlatform = detectClaudePlatform(platform, arch);

  let version = options.version ?? sdkClaudeCodeVersion();
  if (!/^\d+\.\d+\.\d+/.test(version)) {
    version = (await (await getOk(`${baseUrl}/${version}`, fetchImpl)).text()).trim();
    if (!/^\d+\.\d+\.\d+[\w.-]*$/.test(version)) {
      throw new ClaudeCoreError(
        "download_failed",
        `the release channel named an invalid version "${version}"`,
      );
    }
  }

  const manifestUrl = `${baseUrl}/${version}/manifest.json`;
  let manifest: { platforms?: Record<string, ManifestEntry> };
  try {
    manifest = (await (await getOk(manifestUrl, fetchImpl)).json()) as typeof manifest;
  } catch (error) {
    if (error instanceof ClaudeCoreError) throw error;
    throw new ClaudeCoreError("download_failed", `${manifestUrl} is not valid JSON`);
  }
  const entry = manifest.platforms?.[releasePlatform];
  if (!entry || !/^[0-9a-f]{64}$/.test(entry.checksum)) {
    throw new ClaudeCoreError(
      "download_failed",
      `the ${version} manifest has no checksum for ${releasePlatform}`,
    );
  }

  const binaryName = claudeBinaryName(platform);
  const targetDir = join(options.resourcesDir ?? resolve(here, "../resources"), "bin", releasePlatform);
  const target = join(targetDir, binaryName);
  if ((await sha256OfFile(target)) === entry.checksum) {
    return { status: "up-to-date", version, path: target, sha256: entry.checksum };
  }

  await mkdir(targetDir, { recursive: true });
  const partial = join(targetDir, `.${binaryName}.${randomBytes(6).toString("hex")}.partial`);
  try {
    const response = await getOk(
      `${baseUrl}/${version}/${releasePlatform}/${entry.binary ?? binaryName}`,
      fetchImpl,
    );
    if (!response.body) throw new ClaudeCoreError("download_failed", "the binary response has no body");
    const hash = createHash("sha256");
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(response.body as never), hashing, createWriteStream(partial));
    } catch (error) {
      throw new ClaudeCoreError(
        "download_failed",
        `the download was interrupted: ${(error as Error).message}`,
      );
    }
    const sha256 = hash.digest("hex");
    const { size } = await stat(partial);
    if (sha256 !== entry.checksum || (entry.size !== undefined && size !== entry.size)) {
      throw new ClaudeCoreError(
        "checksum_mismatch",
        `checksum mismatch for ${releasePlatform} ${version}: expected ${entry.checksum} (${entry.size ?? "?"} bytes), got ${sha256} (${size} bytes)`,
      );
    }
    await chmod(partial, 0o755);
    await rename(partial, target);
    return { status: "downloaded", version, path: target, sha256 };
  } finally {
    await rm(partial, { force: true });
  }
}

async function main(): Promise<void> {
  const result = await downloadClaudeBinary({
    baseUrl: process.env.CLAUDE_RELEASE_BASE_URL || undefined,
    version: process.env.CLAUDE_CODE_VERSION || undefined,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`download-claude-binary: ${(error as Error).message}`);
    process.exit(1);
  });
}
