import { type FakeAnthropic, lastUserText, startFakeAnthropic, textReply } from "@superset/fake-anthropic";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ClaudeSessionManager } from "../src/main/lib/claude/session-manager";
import { fakeModelEnv, makeSandbox, memoryLogger } from "./support/harness";

// Bounded processes and idle release, with the real CLI against the fake model.
const sandbox = makeSandbox("desktop-pool-");
let fake: FakeAnthropic;

beforeAll(async () => {
  fake = await startFakeAnthropic({ script: (request) => textReply(`echo: ${lastUserText(request)}`) });
});

afterAll(async () => {
  await fake?.stop();
  sandbox.cleanup();
});

function manager(options: { maxProcesses?: number; idleTimeoutMs?: number }) {
  return new ClaudeSessionManager({
    env: fakeModelEnv(fake.url, sandbox),
    model: "claude-fake-1",
    logger: memoryLogger().logger,
    ...options,
  });
}

describe("process bounds", () => {
  it("never runs more processes than allowed: a waiting session evicts the idle one, which resumes later", async () => {
    const sessions = manager({ maxProcesses: 1 });
    let maxSeen = 0;
    sessions.subscribe("*", () => {
      maxSeen = Math.max(maxSeen, sessions.liveProcessCount);
    });
    try {
      sessions.startSession({ sessionId: "a", cwd: sandbox.workspace });
      sessions.startSession({ sessionId: "b", cwd: sandbox.workspace });
      const [a, b] = await Promise.all([
        sessions.sendMessage({ sessionId: "a", content: "first words of a" }),
        sessions.sendMessage({ sessionId: "b", content: "first words of b" }),
      ]);
      expect(a.text).toBe("echo: first words of a");
      expect(b.text).toBe("echo: first words of b");
      expect(maxSeen).toBe(1);
      expect(sessions.getSession("a")?.hasProcess).toBe(false);
      expect(sessions.getSession("b")?.hasProcess).toBe(true);

      const again = await sessions.sendMessage({ sessionId: "a", content: "a again" });
      expect(again.type).toBe("turn_done");
      expect(again.claudeSessionId).toBe(a.claudeSessionId);
      expect(JSON.stringify(fake.requests.at(-1)?.body.messages)).toContain("first words of a");
      expect(sessions.processStarts.get("a")).toBe(2);
      expect(sessions.getSession("b")?.hasProcess).toBe(false);
      expect(maxSeen).toBe(1);
    } finally {
      await sessions.close();
    }
  });

  it("releases an idle session's process after the idle time; the next turn starts a new one and resumes", async () => {
    const sessions = manager({ idleTimeoutMs: 300 });
    try {
      sessions.startSession({ sessionId: "idle", cwd: sandbox.workspace });
      const first = await sessions.sendMessage({ sessionId: "idle", content: "before the nap" });
      await vi.waitFor(() => expect(sessions.getSession("idle")?.hasProcess).toBe(false), {
        timeout: 20_000,
        interval: 100,
      });
      expect(sessions.liveProcessCount).toBe(0);
      const second = await sessions.sendMessage({ sessionId: "idle", content: "after the nap" });
      expect(second.type).toBe("turn_done");
      expect(second.claudeSessionId).toBe(first.claudeSessionId);
      expect(sessions.processStarts.get("idle")).toBe(2);
    } finally {
      await sessions.close();
    }
  });
});
