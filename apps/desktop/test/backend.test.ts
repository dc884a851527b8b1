import { afterAll, describe, expect, it } from "vitest";
import { loadDesktopEnv } from "../src/env";
import { createClaudeBackend } from "../src/main/lib/claude/backend";
import { ClaudeSessionManager } from "../src/main/lib/claude/session-manager";
import { makeSandbox, memoryLogger } from "./support/harness";

const sandbox = makeSandbox("desktop-backend-");
afterAll(() => sandbox.cleanup());

const location = { isPackaged: false, appPath: sandbox.root };
const bareEnv = () => ({
  PATH: process.env.PATH,
  HOME: sandbox.home,
  CLAUDE_CONFIG_DIR: sandbox.configDir,
  DISABLE_TELEMETRY: "1",
});

describe("desktop environment", () => {
  it("has defaults and names the variable of a bad value", () => {
    expect(loadDesktopEnv({})).toMatchObject({ CLAUDE_MAX_PROCESSES: 4, SUPERSET_CLAUDE_DEMO: "auto" });
    expect(() => loadDesktopEnv({ CLAUDE_MAX_PROCESSES: "many" })).toThrow(/CLAUDE_MAX_PROCESSES/);
    expect(() => loadDesktopEnv({ SUPERSET_CLAUDE_DEMO: "maybe" })).toThrow(/SUPERSET_CLAUDE_DEMO/);
  });
});

describe("Claude backend selection", () => {
  it("uses the user's credentials when there are some, and never logs them", async () => {
    const { logger, lines } = memoryLogger();
    const backend = await createClaudeBackend({
      demo: "auto",
      location,
      logger,
      processEnv: { ...bareEnv(), ANTHROPIC_API_KEY: "sk-ant-real-key-123" },
      platform: "linux",
    });
    expect(backend.demo).toBeNull();
    expect(backend.env.ANTHROPIC_API_KEY).toBe("sk-ant-real-key-123");
    expect(backend.env.ANTHROPIC_BASE_URL).toBeUndefined();
    expect(backend.executablePath).toMatch(/claude$/);
    expect(lines.join("")).toContain("api_key from env");
    expect(lines.join("")).not.toContain("sk-ant-real-key-123");
    await backend.stop();
  });

  it("refuses to start without credentials when the demo model is off", async () => {
    await expect(
      createClaudeBackend({
        demo: "off",
        location,
        logger: memoryLogger().logger,
        processEnv: bareEnv(),
        platform: "linux",
      }),
    ).rejects.toThrow(/No Claude credentials found/);
  });

  it("falls back to the demo model without credentials, says so in its logs and in every reply", async () => {
    const { logger, lines } = memoryLogger();
    const backend = await createClaudeBackend({
      demo: "auto",
      location,
      logger,
      processEnv: bareEnv(),
      platform: "linux",
    });
    const sessions = new ClaudeSessionManager({
      env: backend.env,
      executablePath: backend.executablePath,
      logger,
    });
    try {
      expect(backend.demo?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(lines.join("")).toContain("replies come from the built-in demo model");
      sessions.startSession({ sessionId: "demo", cwd: sandbox.workspace });
      const first = await sessions.sendMessage({ sessionId: "demo", content: "hello?" });
      const second = await sessions.sendMessage({ sessionId: "demo", content: "really?" });
      expect(first.type).toBe("turn_done");
      expect(first.text).toContain("[demo model]");
      expect(second.text).toContain("[demo model]");
      expect(second.text).toContain('You said: "really?"');
    } finally {
      await sessions.close();
      await backend.stop();
    }
  });
});
