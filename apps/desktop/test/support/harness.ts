import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/main/lib/claude/logger";

/** An empty HOME, a per-test CLAUDE_CONFIG_DIR and a workspace folder, removed by `cleanup()`. */
export function makeSandbox(prefix = "desktop-claude-") {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const home = join(root, "home");
  const configDir = join(root, "claude-config");
  const workspace = join(root, "workspace");
  for (const dir of [home, configDir, workspace]) mkdirSync(dir, { recursive: true });
  return { root, home, configDir, workspace, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** The environment of a Claude Code process that talks only to the fake model. */
export function fakeModelEnv(
  baseUrl: string,
  sandbox: { home: string; configDir: string },
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: sandbox.home,
    CLAUDE_CONFIG_DIR: sandbox.configDir,
    ANTHROPIC_BASE_URL: baseUrl,
    ANTHROPIC_API_KEY: "sk-ant-test-dummy",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_TELEMETRY: "1",
    DISABLE_AUTOUPDATER: "1",
    DISABLE_ERROR_REPORTING: "1",
    CLAUDE_CODE_MAX_RETRIES: "0",
  };
}

/** A pino logger whose lines are kept in memory (to assert that no secret is ever written). */
export function memoryLogger(level = "debug"): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { logger: createLogger({ level, destination }), lines };
}
