import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Row, Shape, ShapeStream } from "@electric-sql/client";
import { chatMessages } from "@superset/db/schema";
import { type FakeAnthropic, lastUserText } from "@superset/fake-anthropic";
import { and, eq } from "drizzle-orm";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StreamEvent } from "../../src/main/lib/host/stream-events";
import { makeSandbox } from "../support/harness";
import { killOrphanedClaude, startHostCli } from "../support/host-cli";
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
  // Short leases and two claims per message: a killed host's message is taken over, then failed, within seconds.
  stack = await startStack({ leaseMs: 6_000, maxClaims: 2 });
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

async function newSession(title: string, workspaceId = WORKSPACE) {
  const session = await ann.client.chat.createSession.mutate({ workspaceId, title });
  await ann.client.chat.addParticipant.mutate({ sessionId: session.id, email: bob.email, role: "editor" });
  return session;
}

/** A new session of Ann's (Bob takes part), with `user` reading its stream from the start. */
async function watchedSession(user: E2eUser, title: string, workspaceId = WORKSPACE) {
  const session = await newSession(title, workspaceId);
  const reader = readerFor(user, session.id);
  reader.start();
  return { session, reader };
}

const send = (user: E2eUser, sessionId: string, content: string) =>
  user.client.chat.sendMessage.mutate({ sessionId, content });

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

    const message = await send(ann, session.id, "slow please");
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

describe("a new session", () => {
  it("an idle host picks up the first message of a session created after it started, through its participation shape", async () => {
    const workspaceId = "ws-new-session";
    const logs: { msg?: string; sessions?: string[] }[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    // No fallback poll in the test's lifetime: only a shape can bring the message to this host.
    const idle = await startTestHost(stack, fake, ann, workspaceId, { pollMs: 600_000, logger });
    try {
      expect(logs.some((l) => l.msg === "host started")).toBe(true);
      const { session, reader } = await watchedSession(ann, "Brand new", workspaceId);
      const message = await send(ann, session.id, "first words");
      await reader.until(saved(message.id));
      reader.stop();
      expect(reader.events.find((e) => e.type === "turn_started" && e.turnId === message.id)).toMatchObject({
        deviceId: idle.host.deviceId,
      });
      expect(reader.events.find((e) => e.type === "turn_saved" && e.turnId === message.id)).toMatchObject({
        messageStatus: "done",
      });
      // The host learnt of the new session from its own participation row and refreshed its chat shapes.
      expect(
        logs.some(
          (l) => l.msg === "joined a session: refreshing the chat shapes" && l.sessions?.includes(session.id),
        ),
      ).toBe(true);
      expect(idle.host.follows(session.id)).toBe(true);
    } finally {
      await idle.stop();
    }
  });
});

describe("interrupt", () => {
  it("an interrupt from another user stops the turn, the stream shows it, the next message runs", async () => {
    const { session, reader } = await watchedSession(bob, "Interrupt");
    const slow = await send(ann, session.id, "slow please");
    const next = await send(ann, session.id, "after the stop");
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
    const { session, reader } = await watchedSession(bob, "Approve");
    const message = await send(ann, session.id, "write allowed.txt");
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
    const { session, reader } = await watchedSession(ann, "Unanswered");
    const message = await send(ann, session.id, "write ignored.txt");
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

describe("a conversation moving between devices", () => {
  it("the turn after one answered on another device starts a new conversation that carries the history", async () => {
    const workspaceId = "ws-handover";
    const first = await startTestHost(stack, fake, ann, workspaceId);
    let second: Awaited<ReturnType<typeof startTestHost>> | undefined;
    try {
      const { session, reader } = await watchedSession(ann, "Handover", workspaceId);
      const m1 = await send(ann, session.id, "remember zebra");
      await reader.until(saved(m1.id));
      await first.stop();
      second = await startTestHost(stack, fake, ann, workspaceId);
      const m2 = await send(ann, session.id, "what did I say");
      await reader.until(saved(m2.id));
      reader.stop();
      const outcome = (id: string) => reader.events.find((e) => e.type === "turn_saved" && e.turnId === id);
      expect(outcome(m1.id)).toMatchObject({ messageStatus: "done" });
      expect(outcome(m2.id)).toMatchObject({ messageStatus: "done" });
      const startedBy = (id: string) =>
        reader.events.find((e) => e.type === "turn_started" && e.turnId === id) as { deviceId?: string };
      expect(startedBy(m1.id).deviceId).toBe(first.host.deviceId);
      expect(startedBy(m2.id).deviceId).toBe(second.host.deviceId);
      const prompt = fake.requests.map(lastUserText).find((text) => text.endsWith("what did I say"));
      expect(prompt).toContain("User: remember zebra");
      expect(prompt).toContain("Assistant: You said: remember zebra");
    } finally {
      await first.stop();
      await second?.stop();
    }
  });
});

describe("host killed mid-turn", () => {
  const streaming = (id: string) => (events: StreamEvent[]) =>
    ofTurn(events, id).some((e) => e.type === "stream_event");
  const messageRow = async (id: string) =>
    (await stack.db.db.select().from(chatMessages).where(eq(chatMessages.id, id)))[0];

  function cliFor(workspaceId: string, sandbox: ReturnType<typeof makeSandbox>) {
    return startHostCli({
      apiUrl: stack.api.url,
      bearer: ann.bearer,
      workspaces: { [workspaceId]: sandbox.workspace },
      modelBaseUrl: fake.url,
      sandbox,
      leaseMs: stack.leaseMs,
    });
  }

  it("another host takes the message over once the lease expires; the stream gets an error event for the abandoned attempt", async () => {
    const workspaceId = "ws-crash";
    const sandbox = makeSandbox("desktop-host-cli-");
    const cli = await cliFor(workspaceId, sandbox);
    let takeover: Awaited<ReturnType<typeof startTestHost>> | undefined;
    try {
      const { session, reader } = await watchedSession(ann, "Crash", workspaceId);
      const message = await send(ann, session.id, "slow please");
      await reader.until(streaming(message.id));
      await cli.waitFor(new RegExp(`turn ${message.id.slice(0, 8)}: started`));
      await cli.kill("SIGKILL");
      killOrphanedClaude(sandbox.configDir);
      const crashed = await messageRow(message.id);
      expect(crashed).toMatchObject({ status: "claimed", claimCount: 1 });

      takeover = await startTestHost(stack, fake, ann, workspaceId);
      await reader.until(saved(message.id));
      reader.stop();
      const turn = ofTurn(reader.events, message.id);
      const types = turn.map((e) => e.type);
      expect(types[0]).toBe("turn_started");
      expect(turn[0]).toMatchObject({ attempt: 1, deviceId: crashed?.claimedByDeviceId });
      const abandonedAt = types.indexOf("turn_error");
      expect(turn[abandonedAt]).toMatchObject({ abandoned: { attempt: 1 } });
      expect(turn[abandonedAt + 1]).toMatchObject({
        type: "turn_started",
        attempt: 2,
        deviceId: takeover.host.deviceId,
      });
      expect(types.slice(-2)).toEqual(["turn_done", "turn_saved"]);
      expect(types.filter((t) => t === "turn_saved")).toHaveLength(1);
      expect(await messageRow(message.id)).toMatchObject({ status: "done", claimCount: 2 });
      expect(await answersTo(message.id)).toHaveLength(1);
    } finally {
      await cli.kill();
      killOrphanedClaude(sandbox.configDir);
      await takeover?.stop();
      sandbox.cleanup();
    }
  });

  it("killed on the message's last claim: the message ends failed with the reason, and the session moves on", async () => {
    const workspaceId = "ws-crash-twice";
    const sandbox = makeSandbox("desktop-host-cli-");
    const hosts = [await cliFor(workspaceId, sandbox)];
    let next: Awaited<ReturnType<typeof startTestHost>> | undefined;
    try {
      const { session, reader } = await watchedSession(ann, "Crash twice", workspaceId);
      const message = await send(ann, session.id, "slow please");
      await reader.until(streaming(message.id));
      await hosts[0]?.kill("SIGKILL");
      killOrphanedClaude(sandbox.configDir);
      // A second host takes it over (claim 2 of 2) and is killed too.
      hosts.push(await cliFor(workspaceId, sandbox));
      await reader.until((events) => {
        const turn = ofTurn(events, message.id);
        const retried = turn.findIndex((e) => e.type === "turn_started" && e.attempt === 2);
        return retried > 0 && turn.slice(retried).some((e) => e.type === "stream_event");
      });
      await hosts[1]?.kill("SIGKILL");
      killOrphanedClaude(sandbox.configDir);

      const failed = await eventually(async () => {
        const row = await messageRow(message.id);
        return row?.status === "failed" ? row : undefined;
      }, 30_000);
      expect(failed.claimCount).toBe(2);
      expect(failed.error).toMatch(/lease expired 2 times/);
      expect(await answersTo(message.id)).toHaveLength(0);
      // Nobody holds a claim on a failed message: the API's sweeper writes the turn's end itself.
      await reader.until(saved(message.id));

      // Not stuck: the next message of the session runs on a host that comes along.
      next = await startTestHost(stack, fake, ann, workspaceId);
      const after = await send(ann, session.id, "after the crash");
      await reader.until(saved(after.id));
      reader.stop();
      expect(reader.events.find((e) => e.type === "turn_saved" && e.turnId === after.id)).toMatchObject({
        messageStatus: "done",
      });
      const turn = ofTurn(reader.events, message.id);
      expect(turn.filter((e) => e.type === "turn_error")).toMatchObject([
        { abandoned: { attempt: 1 } },
        { status: "error", reason: failed.error, leaseExpired: true, writtenBy: "api" },
      ]);
      // The stream of that turn ends with the API's turn_error then turn_saved(failed), each stored once.
      expect(turn.slice(-2)).toMatchObject([
        { type: "turn_error", leaseExpired: true },
        { type: "turn_saved", messageStatus: "failed", assistantMessageId: null },
      ]);
      expect(turn.filter((e) => e.type === "turn_saved")).toHaveLength(1);
      expect(turn.some((e) => e.type === "turn_done")).toBe(false);
      expect((await messageRow(message.id))?.streamEndPendingAt).toBeNull();
    } finally {
      for (const host of hosts) await host.kill();
      killOrphanedClaude(sandbox.configDir);
      await next?.stop();
      sandbox.cleanup();
    }
  });
});
