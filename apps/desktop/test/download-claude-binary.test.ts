import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { downloadClaudeBinary } from "../scripts/download-claude-binary";
import { ClaudeCoreError } from "../src/main/lib/claude/errors";
import { makeSandbox } from "./support/harness";

// A fake release host on loopback: /stable, /<version>/manifest.json, /<version>/<platform>/claude.
const BINARY = Buffer.alloc(256 * 1024, "claude-binary-bytes ");
const SHA = createHash("sha256").update(BINARY).digest("hex");
type Mode = "ok" | "corrupt" | "interrupted";
let mode: Mode = "ok";
const hits: string[] = [];
let server: Server;
let baseUrl: string;
let sandbox: ReturnType<typeof makeSandbox>;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? "");
    if (req.url === "/releases/stable") return void res.end("9.9.9\n");
    if (req.url === "/releases/9.9.9/manifest.json") {
      res.setHeader("content-type", "application/json");
      return void res.end(
        JSON.stringify({
          version: "9.9.9",
          platforms: { "linux-x64": { binary: "claude", checksum: SHA, size: BINARY.length } },
        }),
      );
    }
    if (req.url === "/releases/9.9.9/linux-x64/claude") {
      res.writeHead(200, { "content-length": String(BINARY.length) });
      if (mode === "corrupt") return void res.end(Buffer.alloc(BINARY.length, "x"));
      if (mode === "interrupted") {
        res.write(BINARY.subarray(0, 64 * 1024));
        return void setTimeout(() => res.socket?.destroy(), 20);
      }
      return void res.end(BINARY);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/releases`;
});

afterAll(async () => {
  sandbox?.cleanup();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  sandbox?.cleanup();
  sandbox = makeSandbox("claude-download-");
  mode = "ok";
  hits.length = 0;
});

const options = () => ({
  baseUrl,
  version: "9.9.9",
  resourcesDir: sandbox.root,
  platform: "linux" as const,
  arch: "x64",
});
const binDir = () => join(sandbox.root, "bin", "linux-x64");

describe("download-claude-binary", () => {
  it("downloads, verifies the SHA-256 and stores an executable at resources/bin/<platform>-<arch>/claude", async () => {
    const result = await downloadClaudeBinary(options());
    expect(result).toEqual({
      status: "downloaded",
      version: "9.9.9",
      path: join(binDir(), "claude"),
      sha256: SHA,
    });
    expect(readFileSync(result.path).equals(BINARY)).toBe(true);
    expect(statSync(result.path).mode & 0o111).not.toBe(0);
    expect(readdirSync(binDir())).toEqual(["claude"]);
  });

  it("is idempotent: a binary with the right checksum is kept and not fetched again", async () => {
    await downloadClaudeBinary(options());
    hits.length = 0;
    const again = await downloadClaudeBinary(options());
    expect(again.status).toBe("up-to-date");
    expect(hits).toEqual(["/releases/9.9.9/manifest.json"]);
  });

  it("replaces a binary whose checksum is wrong", async () => {
    mkdirSync(binDir(), { recursive: true });
    writeFileSync(join(binDir(), "claude"), "stale");
    const result = await downloadClaudeBinary(options());
    expect(result.status).toBe("downloaded");
    expect(readFileSync(result.path).equals(BINARY)).toBe(true);
  });

  it("resolves a channel such as stable to its version", async () => {
    const result = await downloadClaudeBinary({ ...options(), version: "stable" });
    expect(result.version).toBe("9.9.9");
  });

  it("fails on a checksum mismatch and leaves nothing behind", async () => {
    mode = "corrupt";
    const error = await downloadClaudeBinary(options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClaudeCoreError);
    expect((error as ClaudeCoreError).code).toBe("checksum_mismatch");
    expect(readdirSync(binDir())).toEqual([]);
  });

  it("fails on an interrupted download and leaves nothing behind", async () => {
    mode = "interrupted";
    const error = await downloadClaudeBinary(options()).catch((e: unknown) => e);
    expect((error as ClaudeCoreError).code).toBe("download_failed");
    expect(readdirSync(binDir())).toEqual([]);
  });

  it("refuses a platform it has no build for, and a version the manifest does not know", async () => {
    await expect(
      downloadClaudeBinary({ ...options(), platform: "linux", arch: "ia32" }),
    ).rejects.toMatchObject({
      code: "unsupported_platform",
    });
    await expect(downloadClaudeBinary({ ...options(), version: "1.0.0" })).rejects.toMatchObject({
      code: "download_failed",
    });
    expect(existsSync(binDir())).toBe(false);
  });
});
