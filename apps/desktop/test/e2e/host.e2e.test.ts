import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Row, Shape, ShapeStream } from "@electric-sql/client";
import { chatMessages } from "@superset/db/schema";
import type { FakeAnthropic } from "@superset/fake-anthropic";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StreamEvent } from "../../src/main/lib/host/stream-events";
import { eventually, StreamReader } from "../support/reader";
import { type Stack, startStack } from "../support/stack";
import { type E2eUser, joinOrganization, signUpUser } from "../support/users";
import { startFake, startTestHost } from "./fixtures";

// Real servers (API, stream server, sync service, Postgres), the real Agent SDK and CLI, the fake model.

const WORKSPACE = "ws-e2e";
let stack: Stack;
let fake: FakeAnthropic;
let ann: E2eUser;
let bob: E2eUser;
let hostA: Awaited<ReturnType<typeof startTestHost>>;
let workspace = "";

beforeAll(async () => {
  stack = await startStack({ leaseMs: 6_000 });
  fake = await startFake(() => workspace);
  ann = await signUpUser(stack.api.url, "Ann");
  bob = await joinOrganization(stack.api.url, ann, await signUpUser(stack.api.url, "Bob"));
  hostA = await startTestHost(stack, fake, ann, WORKSPACE, { approvalTimeoutMs: 4_000 });
  workspace = hostA.sandbox.workspace;
}, 180_000);

afterAll(async () => {
  await hostA?.stop();
  await fake?.stop();
  await stack?.stop();
}, 60_000);

async function newSession(title: string) {
  const session = await ann.client.chat.createSession.mutate({ workspaceId: WORKSPACE, title });
  await ann.client.chat.addParticipant.mutate({ sessionId: session.id, email: bob.email, role: "editor" });
  return session;
}

function readerFor(user: E2eUser, sessionId: string) {
  const url = `${stack.stream.url}/streams/${sessionId}`;
  return new StreamReader(
    url,
    async () => (await user.client.chat.getStreamToken.query({ sessionId })).token,
  );
}

const ofTurn = (events: StreamEvent[], turnId: string) => events.filter((e) => e.turnId === turnId);
const saved = (turnId: string) => (events: StreamEvent[]) =>
  events.some((e) => e.type === "turn_saved" && e.turnId === turnId);

async function answersTo(messageId: string) {
  return stack.db.db.select().from(chatMessages).where(eq(chatMessages.replyToId, messageId));
}

describe("one message end to end", () => {
  it("runs once, streams every event to two readers (one resuming from its offset), saves once, syncs the answer", async () => {
    const session = await newSession("E2E");
    const first = readerFor(ann, session.id);
    const second = readerFor(bob, session.id);
    first.start();
    second.start();

    const message = await ann.client.chat.sendMessage.mutate({
      sessionId: session.id,
      content: "slow please",
    });
    // The second reader drops out after the first token and resumes from its offset.
    await second.until((events) => events.some((e) => e.type === "stream_event"));
    second.stop();
    const resumeAt = second.offset;
    await first.until((events) => events.filter((e) => e.type === "stream_event").length > 20);
    second.start(resumeAt);
    await first.until(saved(message.id));
    await second.until(saved(message.id));
    first.stop();
    second.stop();

    const types = ofTurn(first.events, message.id).map((e) => e.type);
    expect(types[0]).toBe("turn_started");
    expect(types.at(-2)).toBe("turn_done");
    expect(types.at(-1)).toBe("turn_saved");
    const started = first.events[0];
    expect(started).toMatchObject({
      type: "turn_started",
      message: { id: message.id, content: "slow please" },
    });
    // Exactly once, in order, for both readers.
    const seqs = first.events.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(second.events.map((e) => e.seq)).toEqual(seqs);

    const answers = await answersTo(message.id);
    expect(answers).toHaveLength(1);
    const answer = answers[0];
    const savedEvent = first.events.find((e) => e.type === "turn_saved");
    expect(savedEvent).toMatchObject({ messageStatus: "done", assistantMessageId: answer?.id });
    const text = first.events
      .flatMap((e) =>
        e.type === "stream_event" &&
        e.event.type === "content_block_delta" &&
        e.event.delta.type === "text_delta"
          ? [e.event.delta.text]
          : [],
      )
      .join("");
    expect(answer?.content).toBe(text);

    // The saved answer arrives through an Electric shape.
    const shape = new Shape(
      new ShapeStream<Row>({
        url: stack.shapeUrl,
        params: { table: "chat_messages", where: `session_id = '${session.id}' AND role = 'assistant'` },
        headers: { authorization: `Bearer ${ann.bearer}` },
      }),
    );
    const rows = await eventually(async () => {
      const current = await shape.rows;
      return current.length > 0 ? current : undefined;
    });
    expect(rows.map((r) => r.id)).toEqual([answer?.id]);
    expect(rows[0]?.content).toBe(text);
  });
});

describe("interrupt", () => {
  it("an interrupt from another user stops the turn, the stream shows it, the next message runs", async () => {
    const session = await newSession("Interrupt");
    const reader = readerFor(bob, session.id);
    reader.start();
    const slow = await ann.client.chat.sendMessage.mutate({ sessionId: session.id, content: "slow please" });
    const next = await ann.client.chat.sendMessage.mutate({
      sessionId: session.id,
      content: "after the stop",
    });
    await reader.until((events) => ofTurn(events, slow.id).some((e) => e.type === "stream_event"));
    await bob.client.chat.interrupt.mutate({ sessionId: session.id });
    await reader.until(saved(next.id));
    reader.stop();
    const slowTypes = ofTurn(reader.events, slow.id).map((e) => e.type);
    expect(slowTypes).toContain("turn_interrupted");
    expect(reader.events.find((e) => e.type === "turn_saved" && e.turnId === slow.id)).toMatchObject({
      messageStatus: "interrupted",
      assistantMessageId: null,
    });
    expect(ofTurn(reader.events, next.id).map((e) => e.type)).toContain("turn_done");
    const [row] = await stack.db.db.select().from(chatMessages).where(eq(chatMessages.id, slow.id));
    expect(row?.status).toBe("interrupted");
    expect(await answersTo(slow.id)).toHaveLength(0);
    expect(await answersTo(next.id)).toHaveLength(1);
  });
});

describe("approvals", () => {
  it("a tool approval answered by another user lets the tool run", async () => {
    const session = await newSession("Approve");
    const reader = readerFor(bob, session.id);
    reader.start();
    const message = await ann.client.chat.sendMessage.mutate({
      sessionId: session.id,
      content: "write allowed.txt",
    });
    await reader.until((events) => events.some((e) => e.type === "approval_opened"));
    const opened = reader.events.find((e) => e.type === "approval_opened");
    if (opened?.type !== "approval_opened") throw new Error("no approval_opened event");
    expect(opened.toolName).toBe("Write");
    await bob.client.chat.answerApproval.mutate({ approvalId: opened.approvalId, decision: "allow" });
    await reader.until(saved(message.id));
    reader.stop();
    expect(reader.events.find((e) => e.type === "approval_resolved")).toMatchObject({ behavior: "allow" });
    expect(existsSync(join(workspace, "allowed.txt"))).toBe(true);
    const [answer] = await answersTo(message.id);
    expect(answer?.toolCalls).toMatchObject([{ name: "Write", isError: false }]);
  });

  it("an approval nobody answers times out as denied", async () => {
    const session = await newSession("Unanswered");
    const reader = readerFor(ann, session.id);
    reader.start();
    const message = await ann.client.chat.sendMessage.mutate({
      sessionId: session.id,
      content: "write ignored.txt",
    });
    await reader.until(saved(message.id));
    reader.stop();
    expect(reader.events.find((e) => e.type === "approval_resolved")).toMatchObject({
      behavior: "deny",
      decidedBy: "timeout",
    });
    expect(existsSync(join(workspace, "ignored.txt"))).toBe(false);
    const approvals = await ann.client.chat.listApprovals.query({ sessionId: session.id });
    expect(approvals.map((a) => a.status)).toEqual(["expired"]);
  });
});

describe("two hosts", () => {
  it("with the same workspace and many messages, each message runs exactly once", async () => {
    const hostB = await startTestHost(stack, fake, ann, WORKSPACE);
    try {
      const sessions = [await newSession("Many 1"), await newSession("Many 2"), await newSession("Many 3")];
      const readers = sessions.map((s) => readerFor(ann, s.id));
      for (const reader of readers) reader.start();
      const sent: { sessionId: string; id: string }[] = [];
      for (let i = 0; i < 3; i++) {
        for (const session of sessions) {
          const m = await ann.client.chat.sendMessage.mutate({
            sessionId: session.id,
            content: `number ${i}`,
          });
          sent.push({ sessionId: session.id, id: m.id });
        }
      }
      for (const [i, reader] of readers.entries()) {
        const mine = sent.filter((m) => m.sessionId === sessions[i]?.id);
        await reader.until((events) => mine.every((m) => saved(m.id)(events)), 120_000);
        reader.stop();
        for (const m of mine) {
          expect(ofTurn(reader.events, m.id).filter((e) => e.type === "turn_started")).toHaveLength(1);
        }
        // In the order they were sent.
        const order = reader.events.filter((e) => e.type === "turn_started").map((e) => e.turnId);
        expect(order).toEqual(mine.map((m) => m.id));
      }
      const outcomes = readers.flatMap((reader) =>
        reader.events.flatMap((e) =>
          e.type === "turn_saved"
            ? [`${e.turnId.slice(0, 8)} ${e.messageStatus}`]
            : e.type === "turn_error" || e.type === "turn_interrupted"
              ? [`${e.turnId.slice(0, 8)} ${e.type}: ${e.reason}`]
              : [],
        ),
      );
      expect(outcomes.filter((o) => !o.endsWith(" done"))).toEqual([]);
      for (const m of sent) expect(await answersTo(m.id)).toHaveLength(1);
      const rows = await stack.db.db
        .select({ status: chatMessages.status, claimCount: chatMessages.claimCount })
        .from(chatMessages)
        .where(and(eq(chatMessages.role, "user"), eq(chatMessages.status, "done")));
      expect(rows.length).toBeGreaterThanOrEqual(sent.length);
      const devices = new Set(
        (
          await stack.db.db
            .select({ device: chatMessages.claimedByDeviceId })
            .from(chatMessages)
            .where(eq(chatMessages.role, "user"))
        ).map((r) => r.device),
      );
      expect(devices.size).toBeGreaterThanOrEqual(1);
    } finally {
      await hostB.stop();
    }
  });
});
