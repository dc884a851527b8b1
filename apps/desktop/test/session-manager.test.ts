import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  cutReply,
  errorReply,
  type FakeAnthropic,
  lastToolResults,
  lastUserText,
  type RecordedRequest,
  slowReply,
  startFakeAnthropic,
  textReply,
  thinkingReply,
  toolUseReply,
} from "@superset/fake-anthropic";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApprovalDecision, ApprovalRequest } from "../src/main/lib/claude/approvals";
import type { ClaudeSessionEvent } from "../src/main/lib/claude/events";
import { ClaudeSessionManager } from "../src/main/lib/claude/session-manager";
import { fakeModelEnv, makeSandbox, memoryLogger } from "./support/harness";

// Everything here drives the real Agent SDK and the real Claude Code CLI against the fake model.
// Turns share one session where that is honest: each process start costs seconds of CPU.

const UNICODE_TEXT = "Grüße 👋🏽 aus 東京 — 🇫🇷 👩‍👩‍👧 ok";
const SLOW_TEXT = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen";

function respond(request: RecordedRequest) {
  const prompt = lastUserText(request);
  if (lastToolResults(request).length > 0) {
    const result = lastToolResults(request)[0];
    return textReply(`Tool finished (error: ${result?.is_error === true}).`);
  }
  if (prompt.includes("unicode please")) {
    return textReply(UNICODE_TEXT, {
      chunkSize: 1,
      splitWritesInsideCharacters: true,
      usage: { inputTokens: 1234, outputTokens: 56 },
    });
  }
  const write = /write (\S+)/.exec(prompt);
  if (write?.[1]) {
    return toolUseReply({
      name: "Write",
      input: { file_path: join(sandbox.workspace, write[1]), content: `content of ${write[1]}` },
      text: "Writing the file.",
    });
  }
  if (prompt.includes("slow please")) return slowReply(SLOW_TEXT, 150);
  if (prompt.includes("fail please")) return errorReply(400, "scripted failure for the test");
  if (prompt.includes("think please")) return thinkingReply("Let me think about this.", "The answer is 42.");
  if (prompt.includes("cut please")) return cutReply("this stream will be cut mid-way", 5);
  return textReply(`You said: ${prompt}`);
}

const sandbox = makeSandbox();
let fake: FakeAnthropic;
let manager: ClaudeSessionManager;
const events: ClaudeSessionEvent[] = [];
const approvals: ApprovalRequest[] = [];
const log = memoryLogger();

function approve(request: ApprovalRequest): Promise<ApprovalDecision> {
  approvals.push(request);
  const path = String(request.input.file_path ?? "");
  if (path.includes("allowed")) return Promise.resolve({ behavior: "allow" });
  if (path.includes("denied")) return Promise.resolve({ behavior: "deny", message: "not this file" });
  return new Promise(() => {}); // nobody answers
}

function turnEvents(turnId: string) {
  return events.filter((event) => event.turnId === turnId);
}

function textDeltas(turnId: string): string[] {
  return turnEvents(turnId).flatMap((event) =>
    event.type === "stream_event" &&
    event.event.type === "content_block_delta" &&
    event.event.delta.type === "text_delta"
      ? [event.event.delta.text]
      : [],
  );
}

beforeAll(async () => {
  fake = await startFakeAnthropic({ script: respond });
  manager = new ClaudeSessionManager({
    env: fakeModelEnv(fake.url, sandbox),
    model: "claude-fake-1",
    logger: log.logger,
    requestApproval: approve,
    approvalTimeoutMs: 1_500,
  });
  manager.subscribe("*", (event) => events.push(event));
  manager.startSession({ sessionId: "s1", cwd: sandbox.workspace });
});

afterAll(async () => {
  await manager?.close();
  await fake?.stop();
  sandbox.cleanup();
});

describe("ClaudeSessionManager with the real SDK and CLI", () => {
  it("streams every text delta in order; the joined text equals what the model sent; unicode survives", async () => {
    const prompt = "unicode please: Grüße 👋🏽 東京";
    const end = await manager.sendMessage({ sessionId: "s1", turnId: "t-unicode", content: prompt });
    expect(end.type).toBe("turn_done");
    const deltas = textDeltas("t-unicode");
    expect(deltas).toEqual(Array.from(UNICODE_TEXT));
    expect(deltas.join("")).toBe(UNICODE_TEXT);
    expect(end.text).toBe(UNICODE_TEXT);
    expect(end.usage).toEqual({ inputTokens: 1234, outputTokens: 56 });
    expect(end.costUsd).toBeGreaterThanOrEqual(0);
    expect(end.claudeSessionId).toMatch(/^[0-9a-f-]{36}$/);
    // The prompt reached the model intact.
    expect(lastUserText(fake.requests.at(-1) as RecordedRequest)).toContain("Grüße 👋🏽 東京");
    const kinds = turnEvents("t-unicode").map((event) => event.type);
    expect(kinds[0]).toBe("turn_started");
    expect(kinds.at(-1)).toBe("turn_done");
    const seqs = turnEvents("t-unicode").map((event) => event.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it("runs the second turn on the warm process without starting a new one", async () => {
    const pid = manager.getSession("s1")?.pid;
    expect(pid).toBeTypeOf("number");
    expect(manager.processStarts.get("s1")).toBe(1);
    const end = await manager.sendMessage({ sessionId: "s1", turnId: "t-warm", content: "hello again" });
    expect(end.type).toBe("turn_done");
    expect(end.text).toBe("You said: hello again");
    expect(manager.processStarts.get("s1")).toBe(1);
    expect(manager.getSession("s1")?.pid).toBe(pid);
    const started = turnEvents("t-warm")[0];
    expect(started?.type === "turn_started" && started.coldStart).toBe(false);
  });

  it("asks for approval, runs the tool, and sends its result in the second request", async () => {
    const before = fake.requests.length;
    const end = await manager.sendMessage({
      sessionId: "s1",
      turnId: "t-tool",
      content: "write allowed.txt",
    });
    expect(end.type).toBe("turn_done");
    expect(readFileSync(join(sandbox.workspace, "allowed.txt"), "utf8")).toBe("content of allowed.txt");
    const followUp = fake.requests.slice(before).find((request) => lastToolResults(request).length > 0);
    expect(followUp).toBeDefined();
    const [toolResult] = lastToolResults(followUp as RecordedRequest);
    expect(toolResult?.is_error).not.toBe(true);
    expect(end.toolCalls).toHaveLength(1);
    expect(end.toolCalls[0]).toMatchObject({
      name: "Write",
      input: { file_path: join(sandbox.workspace, "allowed.txt") },
      isError: false,
    });
    expect(end.text).toBe("Writing the file.\n\nTool finished (error: false).");
    const kinds = turnEvents("t-tool").map((event) => event.type);
    expect(kinds).toContain("approval_requested");
    expect(kinds).toContain("tool_result");
    const resolved = turnEvents("t-tool").find((event) => event.type === "approval_resolved");
    expect(resolved).toMatchObject({ behavior: "allow", decidedBy: "answer" });
    expect(approvals.at(-1)).toMatchObject({ sessionId: "s1", turnId: "t-tool", toolName: "Write" });
  });

  it("goes on with the turn when an approval is denied", async () => {
    const end = await manager.sendMessage({ sessionId: "s1", turnId: "t-deny", content: "write denied.txt" });
    expect(end.type).toBe("turn_done");
    expect(existsSync(join(sandbox.workspace, "denied.txt"))).toBe(false);
    expect(end.toolCalls[0]).toMatchObject({ name: "Write", isError: true });
    expect(end.toolCalls[0]?.result).toContain("not this file");
    expect(end.text).toContain("Tool finished (error: true).");
  });

  it("denies when nobody answers in time, and the turn goes on", async () => {
    const end = await manager.sendMessage({
      sessionId: "s1",
      turnId: "t-timeout",
      content: "write unanswered.txt",
    });
    expect(end.type).toBe("turn_done");
    expect(existsSync(join(sandbox.workspace, "unanswered.txt"))).toBe(false);
    const resolved = turnEvents("t-timeout").find((event) => event.type === "approval_resolved");
    expect(resolved).toMatchObject({ behavior: "deny", decidedBy: "timeout" });
    expect(approvals.at(-1)?.signal.aborted).toBe(true);
  });

  it("ends an interrupted turn as interrupted, keeps the partial text, and the next turn works", async () => {
    const firstDelta = new Promise<void>((resolve) => {
      const off = manager.subscribe("s1", (event) => {
        if (
          event.turnId === "t-slow" &&
          event.type === "stream_event" &&
          event.event.type === "content_block_delta"
        ) {
          off();
          resolve();
        }
      });
    });
    const ending = manager.sendMessage({ sessionId: "s1", turnId: "t-slow", content: "slow please" });
    await firstDelta;
    expect(manager.interrupt("s1", "t-slow")).toBe(true);
    const end = await ending;
    expect(end.type).toBe("turn_interrupted");
    expect(end.reason).toBe("interrupted");
    expect(end.text.length).toBeGreaterThan(0);
    expect(SLOW_TEXT.startsWith(end.text)).toBe(true);
    expect(end.text).not.toBe(SLOW_TEXT);

    const next = await manager.sendMessage({
      sessionId: "s1",
      turnId: "t-after-interrupt",
      content: "still there?",
    });
    expect(next.type).toBe("turn_done");
    expect(next.text).toBe("You said: still there?");
  });

  it("ends an API error as an error turn with a readable reason", async () => {
    const end = await manager.sendMessage({ sessionId: "s1", turnId: "t-fail", content: "fail please" });
    expect(end.type).toBe("turn_error");
    expect(end.reason).toContain("scripted failure for the test");
    const next = await manager.sendMessage({ sessionId: "s1", turnId: "t-after-fail", content: "and now?" });
    expect(next.type).toBe("turn_done");
  });

  it("streams thinking blocks as events and keeps them out of the turn's text", async () => {
    const end = await manager.sendMessage({ sessionId: "s1", turnId: "t-think", content: "think please" });
    expect(end.type).toBe("turn_done");
    expect(end.text).toBe("The answer is 42.");
    const thinking = turnEvents("t-think").flatMap((event) =>
      event.type === "stream_event" &&
      event.event.type === "content_block_delta" &&
      event.event.delta.type === "thinking_delta"
        ? [event.event.delta.thinking]
        : [],
    );
    expect(thinking.join("")).toBe("Let me think about this.");
  });

  it("ends a turn whose stream is cut mid-way as an error, and the next turn works", async () => {
    const end = await manager.sendMessage({ sessionId: "s1", turnId: "t-cut", content: "cut please" });
    expect(end.type).toBe("turn_error");
    expect(end.reason?.length).toBeGreaterThan(0);
    const next = await manager.sendMessage({
      sessionId: "s1",
      turnId: "t-after-cut",
      content: "after the cut",
    });
    expect(next.type).toBe("turn_done");
    expect(next.text).toBe("You said: after the cut");
  });

  it("resumes the conversation after the manager restarts", async () => {
    const remember = await manager.sendMessage({
      sessionId: "s1",
      turnId: "t-remember",
      content: "remember the word pineapple",
    });
    const claudeSessionId = remember.claudeSessionId;
    expect(claudeSessionId).toBeTruthy();
    await manager.close();

    const restarted = new ClaudeSessionManager({
      env: fakeModelEnv(fake.url, sandbox),
      model: "claude-fake-1",
    });
    try {
      restarted.startSession({
        sessionId: "s1",
        cwd: sandbox.workspace,
        claudeSessionId: claudeSessionId ?? "",
        previousTotalCostUsd: remember.totalCostUsd,
      });
      const end = await restarted.sendMessage({
        sessionId: "s1",
        turnId: "t-resumed",
        content: "what word?",
      });
      expect(end.type).toBe("turn_done");
      expect(end.claudeSessionId).toBe(claudeSessionId);
      // The SDK's running total carries over on resume: the host passes the total it saved last time.
      expect(end.totalCostUsd).toBeGreaterThan(remember.totalCostUsd);
      expect(end.costUsd).toBeCloseTo(end.totalCostUsd - remember.totalCostUsd, 9);
      const history = JSON.stringify(fake.requests.at(-1)?.body.messages);
      expect(history).toContain("remember the word pineapple");
      expect(history).toContain("You said: remember the word pineapple");
    } finally {
      await restarted.close();
    }
  });

  it("never writes the API key to its logs", () => {
    expect(log.lines.length).toBeGreaterThan(0);
    expect(log.lines.join("")).not.toContain("sk-ant-test-dummy");
  });
});
