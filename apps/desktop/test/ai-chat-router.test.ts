import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type FakeAnthropic,
  lastUserText,
  startFakeAnthropic,
  textReply,
  toolUseReply,
} from "@superset/fake-anthropic";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApprovalBroker } from "../src/main/lib/claude/approvals";
import { type ClaudeSessionEvent, isTurnEnd } from "../src/main/lib/claude/events";
import { ClaudeSessionManager } from "../src/main/lib/claude/session-manager";
import { appRouter } from "../src/main/lib/trpc/routers";
import { createCallerFactory } from "../src/main/lib/trpc/trpc";
import { fakeModelEnv, makeSandbox, memoryLogger } from "./support/harness";

const sandbox = makeSandbox("desktop-trpc-");
let fake: FakeAnthropic;
let sessions: ClaudeSessionManager;
const approvals = new ApprovalBroker();
const createCaller = createCallerFactory(appRouter);
let caller: ReturnType<typeof createCaller>;

beforeAll(async () => {
  fake = await startFakeAnthropic({
    script: (request) => {
      const prompt = lastUserText(request);
      if (
        prompt === "make a file" &&
        !JSON.stringify(request.body.messages?.at(-1)).includes("tool_result")
      ) {
        return toolUseReply({
          name: "Write",
          input: { file_path: join(sandbox.workspace, "via-ui.txt"), content: "x" },
        });
      }
      return textReply(`echo: ${prompt}`);
    },
  });
  sessions = new ClaudeSessionManager({
    env: fakeModelEnv(fake.url, sandbox),
    model: "claude-fake-1",
    logger: memoryLogger().logger,
    requestApproval: approvals.request,
  });
  caller = createCaller({ sessions, approvals });
});

afterAll(async () => {
  await sessions?.close();
  await fake?.stop();
  sandbox.cleanup();
});

/** Subscribes through the router and collects events until the turn ends. */
async function collectTurn(
  sessionId: string,
  start: () => Promise<{ turnId: string }>,
  onEvent?: (e: ClaudeSessionEvent) => void,
) {
  const events: ClaudeSessionEvent[] = [];
  const stream = await caller.aiChat.streamTokens({ sessionId });
  let turnId = "";
  const ended = new Promise<void>((resolve, reject) => {
    const subscription = stream.subscribe({
      next(event: ClaudeSessionEvent) {
        events.push(event);
        onEvent?.(event);
        if (isTurnEnd(event) && event.turnId === turnId) {
          subscription.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
  });
  turnId = (await start()).turnId;
  await ended;
  return events.filter((event) => event.turnId === turnId);
}

describe("desktop tRPC router aiChat", () => {
  it("starts a session, sends a message and streams its events to the subscription", async () => {
    const info = await caller.aiChat.startSession({ sessionId: "ui-1", cwd: sandbox.workspace });
    expect(info).toMatchObject({ sessionId: "ui-1", busy: false, hasProcess: false });
    const events = await collectTurn("ui-1", () =>
      caller.aiChat.sendMessage({ sessionId: "ui-1", content: "hi there" }),
    );
    expect(events[0]?.type).toBe("turn_started");
    expect(events.some((event) => event.type === "stream_event")).toBe(true);
    const end = events.at(-1);
    expect(end?.type === "turn_done" && end.text).toBe("echo: hi there");
  });

  it("lets the UI answer an approval request", async () => {
    const events = await collectTurn(
      "ui-1",
      () => caller.aiChat.sendMessage({ sessionId: "ui-1", content: "make a file" }),
      (event) => {
        if (event.type === "approval_requested") {
          void caller.aiChat.pendingApprovals({ sessionId: "ui-1" }).then(async (pending) => {
            expect(pending.map((p) => p.approvalId)).toEqual([event.approvalId]);
            await caller.aiChat.answerApproval({ approvalId: event.approvalId, behavior: "allow" });
          });
        }
      },
    );
    expect(events.at(-1)?.type).toBe("turn_done");
    expect(existsSync(join(sandbox.workspace, "via-ui.txt"))).toBe(true);
    await expect(
      caller.aiChat.answerApproval({ approvalId: "no-such-approval", behavior: "allow" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("answers bad input with clear client errors, never a 500", async () => {
    const codeOf = (promise: Promise<unknown>) =>
      promise.then(
        () => "ok",
        (error: unknown) => (error instanceof TRPCError ? error.code : "not a TRPCError"),
      );
    expect(await codeOf(caller.aiChat.startSession({ sessionId: "x", cwd: "relative/path" }))).toBe(
      "BAD_REQUEST",
    );
    expect(
      await codeOf(caller.aiChat.startSession({ sessionId: "x", cwd: join(sandbox.root, "missing") })),
    ).toBe("BAD_REQUEST");
    expect(await codeOf(caller.aiChat.sendMessage({ sessionId: "nope", content: "hi" }))).toBe("NOT_FOUND");
    expect(await codeOf(caller.aiChat.sendMessage({ sessionId: "ui-1", content: "   " }))).toBe(
      "BAD_REQUEST",
    );
    expect(await codeOf(caller.aiChat.interrupt({ sessionId: "nope" }))).toBe("NOT_FOUND");
    expect(await caller.aiChat.interrupt({ sessionId: "ui-1" })).toEqual({ interrupted: false });
  });
});
