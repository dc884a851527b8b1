import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { parseEnv } from "../../src/env";
import { type RunningServer, startServer } from "../../src/server";

/** Starts a stream server on a free loopback port with the given settings. */
export async function startTestServer(overrides: Record<string, string> = {}): Promise<RunningServer> {
  const env = parseEnv({
    PORT: "0",
    HOST: "127.0.0.1",
    STREAM_STORAGE: "memory",
    STREAM_AUTH: "none",
    STREAM_LONG_POLL_TIMEOUT_MS: "500",
    LOG_LEVEL: "silent",
    ...overrides,
  });
  return startServer(env, pino({ level: "silent" }));
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
