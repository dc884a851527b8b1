import { chatMessages } from "@superset/db/schema";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, type TestDevice, type TestUser } from "./support/harness";

let h: Harness;
let ann: TestUser;
let desk: TestDevice;

beforeAll(async () => {
  h = await createHarness();
  ann = await h.user("Ann");
  desk = await h.device(ann, ["ws-1"]);
});
afterAll(() => h.drop());

async function newSession() {
  return ann.api.chat.createSession({ title: "Chat", workspaceId: "ws-1" });
}

describe("sendMessage", () => {
  it("queues a pending user message and runs nothing", async () => {
    const session = await newSession();
    const sent = await ann.api.chat.sendMessage({ sessionId: session.id, content: "Hello" });
    expect(sent).toMatchObject({ role: "user", status: "pending", content: "Hello", createdById: ann.id });
    expect(sent.txid).toMatch(/^\d+$/);
    const got = await ann.api.chat.getSession({ sessionId: session.id });
    expect(got.pendingMessageIds).toEqual([sent.id]);
  });

  it("accepts a client-chosen id and treats a resend of it as the same message", async () => {
    const session = await newSession();
    const id = crypto.randomUUID();
    const first = await ann.api.chat.sendMessage({ sessionId: session.id, content: "once", id });
    const again = await ann.api.chat.sendMessage({ sessionId: session.id, content: "once", id });
    expect(first.id).toBe(id);
    expect(again).toMatchObject({ id, txid: null });
    expect(await h.db.select().from(chatMessages).where(eq(chatMessages.sessionId, session.id))).toHaveLength(
      1,
    );
  });

  it("refuses empty and oversized content with a clear message, writing nothing", async () => {
    const session = await newSession();
    await expect(ann.api.chat.sendMessage({ sessionId: session.id, content: "  \n " })).rejects.toMatchObject(
      {
        code: "BAD_REQUEST",
        message: expect.stringContaining("Message cannot be empty"),
      },
    );
    await expect(
      ann.api.chat.sendMessage({ sessionId: session.id, content: "x".repeat(32_001) }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("Message is too long") });
    expect(await h.db.select().from(chatMessages).where(eq(chatMessages.sessionId, session.id))).toHaveLength(
      0,
    );
  });
});

describe("getMessages", () => {
  it("pages through a session's messages in order, both ways", async () => {
    const session = await newSession();
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) {
      sent.push((await ann.api.chat.sendMessage({ sessionId: session.id, content: `m${i}` })).id);
    }
    const collect = async (order: "asc" | "desc") => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await ann.api.chat.getMessages({ sessionId: session.id, limit: 3, cursor, order });
        expect(page.items.length).toBeLessThanOrEqual(3);
        ids.push(...page.items.map((m) => m.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return ids;
    };
    expect(await collect("asc")).toEqual(sent);
    expect(await collect("desc")).toEqual([...sent].reverse());
  });
});

describe("saveAssistantMessage", () => {
  it("stores the answer and marks the prompt done in one step; a retry returns the same answer", async () => {
    const session = await newSession();
    const prompt = await ann.api.chat.sendMessage({ sessionId: session.id, content: "What is 2+2?" });
    const claimed = await desk.api.device.claimNext({ sessionId: session.id });
    expect(claimed?.id).toBe(prompt.id);
    const input = {
      messageId: prompt.id,
      content: "4",
      toolCalls: [{ id: "t1", name: "Bash", input: { command: "echo 4" } }],
      inputTokens: 12,
      outputTokens: 3,
      costUsd: 0.0012,
    };
    const saved = await desk.api.chat.saveAssistantMessage(input);
    expect(saved).toMatchObject({
      role: "assistant",
      status: "done",
      content: "4",
      replyToId: prompt.id,
      inputTokens: 12,
      outputTokens: 3,
      costUsd: "0.001200",
      createdById: ann.id,
      created: true,
    });
    expect(saved.txid).toMatch(/^\d+$/);
    const retry = await desk.api.chat.saveAssistantMessage(input);
    expect(retry).toMatchObject({ id: saved.id, created: false, txid: null });
    const rows = await h.db.select().from(chatMessages).where(eq(chatMessages.sessionId, session.id));
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.id === prompt.id)).toMatchObject({ status: "done", leaseExpiresAt: null });
  });

  it("creates one answer when retries race", async () => {
    const session = await newSession();
    const prompt = await ann.api.chat.sendMessage({ sessionId: session.id, content: "race" });
    await desk.api.device.claim({ messageId: prompt.id });
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        desk.api.chat.saveAssistantMessage({ messageId: prompt.id, content: "ok" }),
      ),
    );
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const answers = await h.db.select().from(chatMessages).where(eq(chatMessages.replyToId, prompt.id));
    expect(answers).toHaveLength(1);
  });

  it("refuses a device that does not hold the claim, and a signed-in user without a device", async () => {
    const session = await newSession();
    const prompt = await ann.api.chat.sendMessage({ sessionId: session.id, content: "mine" });
    await desk.api.device.claim({ messageId: prompt.id });
    const other = await h.device(ann, ["ws-1"], "Other");
    await expect(
      other.api.chat.saveAssistantMessage({ messageId: prompt.id, content: "stolen" }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(
      ann.api.chat.saveAssistantMessage({ messageId: prompt.id, content: "x" }),
    ).rejects.toMatchObject({
      code: "UNAUTHORIZED",
      message: expect.stringContaining("x-device-token"),
    });
    expect(await h.db.select().from(chatMessages).where(eq(chatMessages.replyToId, prompt.id))).toHaveLength(
      0,
    );
  });

  it("refuses an answer to an interrupted message", async () => {
    const session = await newSession();
    const prompt = await ann.api.chat.sendMessage({ sessionId: session.id, content: "stop me" });
    await desk.api.device.claim({ messageId: prompt.id });
    await desk.api.device.finishTurn({ messageId: prompt.id, status: "interrupted" });
    await expect(
      desk.api.chat.saveAssistantMessage({ messageId: prompt.id, content: "late" }),
    ).rejects.toMatchObject({
      code: "CONFLICT",
      message: "This message is already interrupted",
    });
  });
});

describe("interrupt", () => {
  it("interrupts a queued message at once", async () => {
    const session = await newSession();
    const prompt = await ann.api.chat.sendMessage({ sessionId: session.id, content: "never mind" });
    const result = await ann.api.chat.interrupt({ sessionId: session.id });
    expect(result.message).toMatchObject({
      id: prompt.id,
      status: "interrupted",
      interruptRequestedById: ann.id,
    });
    expect(result.txid).toMatch(/^\d+$/);
    expect(await desk.api.device.claimNext({ sessionId: session.id })).toBeNull();
  });

  it("asks the device running a turn to stop; the device sees it on renew and finishes the turn", async () => {
    const session = await newSession();
    const prompt = await ann.api.chat.sendMessage({ sessionId: session.id, content: "long job" });
    const queued = await ann.api.chat.sendMessage({ sessionId: session.id, content: "after" });
    await desk.api.device.claimNext({ sessionId: session.id });
    const result = await ann.api.chat.interrupt({ sessionId: session.id });
    expect(result.message).toMatchObject({ id: prompt.id, status: "claimed" });
    expect(result.message?.interruptRequestedAt).toBeInstanceOf(Date);
    const renewed = await desk.api.device.renewLease({ messageId: prompt.id });
    expect(renewed.interruptRequestedAt).toBeInstanceOf(Date);
    const finished = await desk.api.device.finishTurn({ messageId: prompt.id, status: "interrupted" });
    expect(finished.status).toBe("interrupted");
    // The queued message was not touched and is next.
    expect((await desk.api.device.claimNext({ sessionId: session.id }))?.id).toBe(queued.id);
  });

  it("returns no message when nothing is running", async () => {
    const session = await newSession();
    expect(await ann.api.chat.interrupt({ sessionId: session.id })).toEqual({ message: null, txid: null });
  });
});
