import { performance } from "node:perf_hooks";
import { startFakeAnthropic, textReply } from "@superset/fake-anthropic";
import { ClaudeSessionManager } from "../src/main/lib/claude/session-manager";
import { fakeModelEnv, makeSandbox, memoryLogger } from "../test/support/harness";
import { type BenchRow, row } from "./stats";

/**
 * Prompt → first stream_event with the real SDK and CLI, the fake model answering at once.
 * Cold: the first turn of a new session (process start included). Warm: later turns on a warm process.
 */
export async function claudeLatency(options: { coldTurns: number; warmTurns: number }): Promise<BenchRow[]> {
  const sandbox = makeSandbox("desktop-bench-");
  const fake = await startFakeAnthropic({ script: () => textReply("ok") });
  const sessions = new ClaudeSessionManager({
    env: fakeModelEnv(fake.url, sandbox),
    model: "claude-fake-1",
    logger: memoryLogger("warn").logger,
    maxProcesses: 2,
  });
  const firstEvent = new Map<string, number>();
  sessions.subscribe("*", (event) => {
    if (event.type === "stream_event" && !firstEvent.has(event.turnId))
      firstEvent.set(event.turnId, performance.now());
  });

  async function timeTurn(sessionId: string, turnId: string): Promise<number> {
    const start = performance.now();
    const end = await sessions.sendMessage({ sessionId, turnId, content: `bench ${turnId}` });
    const first = firstEvent.get(turnId);
    if (end.type !== "turn_done" || first === undefined)
      throw new Error(`turn ${turnId} ended as ${end.type}`);
    return first - start;
  }

  try {
    const cold: number[] = [];
    for (let i = 0; i < options.coldTurns; i++) {
      const sessionId = `cold-${i}`;
      sessions.startSession({ sessionId, cwd: sandbox.workspace });
      cold.push(await timeTurn(sessionId, `cold-${i}`));
      await sessions.releaseIdle(sessionId);
    }
    sessions.startSession({ sessionId: "warm", cwd: sandbox.workspace });
    await timeTurn("warm", "warm-up");
    const warm: number[] = [];
    for (let i = 0; i < options.warmTurns; i++) warm.push(await timeTurn("warm", `warm-${i}`));
    const warmRow = row("claude", "prompt → first stream_event, warm", warm);
    warmRow.note = `target p50 ≤ 150 ms: ${warmRow.p50 <= 150 ? "met" : "NOT met"}`;
    return [row("claude", "prompt → first stream_event, cold (new session)", cold), warmRow];
  } finally {
    await sessions.close();
    await fake.stop();
    sandbox.cleanup();
  }
}
