import { chatMessages } from "@superset/db/schema";
import { expireLeases } from "@superset/trpc";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, type TestDevice, type TestUser } from "./support/harness";

let h: Harness;
let ann: TestUser;

beforeAll(async () => {
  h = await createHarness({ maxClaims: 3, leaseMs: 30_000 });
  ann = await h.user("Ann");
});
afterAll(() => h.drop());

/** Moves a message's lease into the past (what waiting out the lease would do). */
async function lapseLease(messageId: string) {
  await h.db
    .update(chatMessages)
    .set({ leaseExpiresAt: sql`now() - interval '1 second'` })
    .where(eq(chatMessages.id, messageId));
}

async function statusOf(messageId: string) {
  const [row] = await h.db.select().from(chatMessages).where(eq(chatMessages.id, messageId));
  return row;
}

describe("claimNext", () => {
  it("claims the oldest pending message of an open workspace, with a lease", async () => {
    const desk = await h.device(ann, ["ws-claim"]);
    const session = await ann.api.chat.createSession({ workspaceId: "ws-claim" });
    const first = await ann.api.chat.sendMessage({ sessionId: session.id, content: "one" });
    const claimed = await desk.api.device.claimNext({});
    expect(claimed).toMatchObject({
      id: first.id,
      status: "claimed",
      claimedByDeviceId: desk.id,
      claimCount: 1,
    });
    expect(claimed?.leaseExpiresAt?.getTime()).toBeGreaterThan(Date.now());
    expect(claimed?.txid).toMatch(/^\d+$/);
  });

  it("never hands out a message while an earlier one of its session is queued or running", async () => {
    const a = await h.device(ann, ["ws-order"], "A");
    const b = await h.device(ann, ["ws-order"], "B");
    const session = await ann.api.chat.createSession({ workspaceId: "ws-order" });
    const m1 = await ann.api.chat.sendMessage({ sessionId: session.id, content: "1" });
    const m2 = await ann.api.chat.sendMessage({ sessionId: session.id, content: "2" });
    expect((await a.api.device.claimNext({}))?.id).toBe(m1.id);
    expect(await b.api.device.claimNext({})).toBeNull();
    await expect(b.api.device.claim({ messageId: m2.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("earlier message"),
    });
    await a.api.chat.saveAssistantMessage({ messageId: m1.id, content: "done 1" });
    expect((await b.api.device.claimNext({}))?.id).toBe(m2.id);
  });

  it("only sees workspaces the device has open, in its own organization, of live sessions", async () => {
    const desk = await h.device(ann, ["ws-here"]);
    const elsewhere = await ann.api.chat.createSession({ workspaceId: "ws-elsewhere" });
    await ann.api.chat.sendMessage({ sessionId: elsewhere.id, content: "not for you" });
    const noWorkspace = await ann.api.chat.createSession({});
    await ann.api.chat.sendMessage({ sessionId: noWorkspace.id, content: "nobody" });
    const zed = await h.user("Zed");
    const foreign = await zed.api.chat.createSession({ workspaceId: "ws-here" });
    const foreignMessage = await zed.api.chat.sendMessage({ sessionId: foreign.id, content: "other org" });
    expect(await desk.api.device.claimNext({})).toBeNull();
    await expect(desk.api.device.claim({ messageId: foreignMessage.id })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    // A heartbeat that opens the workspace makes it claimable.
    await desk.api.device.heartbeat({ workspaceIds: ["ws-here", "ws-elsewhere"] });
    expect((await desk.api.device.claimNext({}))?.sessionId).toBe(elsewhere.id);
  });

  it("gives each message to exactly one device when several ask at once, round after round", async () => {
    const owner = await h.user("Olga");
    const devices: TestDevice[] = [];
    for (let i = 0; i < 4; i++) devices.push(await h.device(owner, ["ws-race"], `D${i}`));
    const sessions = [];
    for (let i = 0; i < 6; i++) sessions.push(await owner.api.chat.createSession({ workspaceId: "ws-race" }));
    const sent = new Set<string>();
    const received: string[] = [];
    for (let round = 0; round < 8; round++) {
      for (const session of sessions) {
        sent.add((await owner.api.chat.sendMessage({ sessionId: session.id, content: `r${round}` })).id);
      }
      // Every device asks twice at the same time; each session has one claimable message.
      const claims = await Promise.all(
        devices.flatMap((d) => [d.api.device.claimNext({}), d.api.device.claimNext({})]),
      );
      const got = claims.filter((c) => c !== null);
      expect(got).toHaveLength(sessions.length);
      expect(new Set(got.map((c) => c.sessionId)).size).toBe(sessions.length);
      received.push(...got.map((c) => c.id));
      await Promise.all(
        got.map((c) => {
          const device = devices.find((d) => d.id === c.claimedByDeviceId) as TestDevice;
          return device.api.chat.saveAssistantMessage({ messageId: c.id, content: "ok" });
        }),
      );
    }
    expect(received).toHaveLength(sent.size);
    expect(new Set(received)).toEqual(sent);
  });
});

describe("leases", () => {
  it("renews a live lease and refuses to renew a lapsed one", async () => {
    const desk = await h.device(ann, ["ws-renew"]);
    const session = await ann.api.chat.createSession({ workspaceId: "ws-renew" });
    const m = await ann.api.chat.sendMessage({ sessionId: session.id, content: "renew" });
    const claimed = await desk.api.device.claimNext({});
    const renewed = await desk.api.device.renewLease({ messageId: m.id });
    expect(renewed.leaseExpiresAt?.getTime()).toBeGreaterThanOrEqual(claimed?.leaseExpiresAt?.getTime() ?? 0);
    await lapseLease(m.id);
    await expect(desk.api.device.renewLease({ messageId: m.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("no longer holds the claim"),
    });
  });

  it("makes a message claimable again when its lease expires, then fails it after the last claim", async () => {
    const a = await h.device(ann, ["ws-lease"], "A");
    const b = await h.device(ann, ["ws-lease"], "B");
    const session = await ann.api.chat.createSession({ workspaceId: "ws-lease" });
    const m = await ann.api.chat.sendMessage({ sessionId: session.id, content: "crashy" });
    expect((await a.api.device.claimNext({}))?.claimCount).toBe(1);
    await lapseLease(m.id);
    const second = await b.api.device.claimNext({});
    expect(second).toMatchObject({ id: m.id, claimedByDeviceId: b.id, claimCount: 2 });
    // A lost its claim: it can no longer save.
    await expect(a.api.chat.saveAssistantMessage({ messageId: m.id, content: "late" })).rejects.toMatchObject(
      {
        code: "FORBIDDEN",
      },
    );
    await lapseLease(m.id);
    expect((await a.api.device.claimNext({}))?.claimCount).toBe(3);
    await lapseLease(m.id);
    expect(await b.api.device.claimNext({})).toBeNull();
    const failed = await statusOf(m.id);
    expect(failed).toMatchObject({ status: "failed", leaseExpiresAt: null });
    expect(failed?.error).toMatch(/lease expired 3 times/);
  });

  it("lets the last claimant still save after its lease lapsed if nobody took over", async () => {
    const desk = await h.device(ann, ["ws-late"]);
    const session = await ann.api.chat.createSession({ workspaceId: "ws-late" });
    const m = await ann.api.chat.sendMessage({ sessionId: session.id, content: "slow" });
    await desk.api.device.claimNext({});
    await lapseLease(m.id);
    expect(await expireLeases(h.db, { maxClaims: 3 })).toEqual({ requeued: 1, failed: 0, interrupted: 0 });
    const saved = await desk.api.chat.saveAssistantMessage({ messageId: m.id, content: "made it" });
    expect(saved.created).toBe(true);
    expect((await statusOf(m.id))?.status).toBe("done");
  });

  it("turns an expired claim with a pending stop request into interrupted, not a rerun", async () => {
    const desk = await h.device(ann, ["ws-stop"]);
    const session = await ann.api.chat.createSession({ workspaceId: "ws-stop" });
    const m = await ann.api.chat.sendMessage({ sessionId: session.id, content: "stop" });
    await desk.api.device.claimNext({});
    await ann.api.chat.interrupt({ sessionId: session.id });
    await lapseLease(m.id);
    expect(await desk.api.device.claimNext({})).toBeNull();
    expect((await statusOf(m.id))?.status).toBe("interrupted");
  });

  it("releases a claim back to the queue", async () => {
    const a = await h.device(ann, ["ws-release"], "A");
    const b = await h.device(ann, ["ws-release"], "B");
    const session = await ann.api.chat.createSession({ workspaceId: "ws-release" });
    const m = await ann.api.chat.sendMessage({ sessionId: session.id, content: "hand over" });
    await a.api.device.claimNext({});
    await expect(b.api.device.release({ messageId: m.id })).rejects.toMatchObject({ code: "CONFLICT" });
    const released = await a.api.device.release({ messageId: m.id });
    expect(released).toMatchObject({ status: "pending", claimedByDeviceId: null });
    expect((await b.api.device.claimNext({}))?.id).toBe(m.id);
  });

  it("claims a given message idempotently for its holder and refuses others", async () => {
    const a = await h.device(ann, ["ws-one"], "A");
    const b = await h.device(ann, ["ws-one"], "B");
    const session = await ann.api.chat.createSession({ workspaceId: "ws-one" });
    const m = await ann.api.chat.sendMessage({ sessionId: session.id, content: "x" });
    const first = await a.api.device.claim({ messageId: m.id });
    expect(first.txid).toMatch(/^\d+$/);
    expect(await a.api.device.claim({ messageId: m.id })).toMatchObject({ id: m.id, txid: null });
    await expect(b.api.device.claim({ messageId: m.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: "Another device has claimed this message",
    });
  });

  it("fails a turn with the device's reason", async () => {
    const desk = await h.device(ann, ["ws-fail"]);
    const session = await ann.api.chat.createSession({ workspaceId: "ws-fail" });
    const m = await ann.api.chat.sendMessage({ sessionId: session.id, content: "x" });
    await desk.api.device.claimNext({});
    const failed = await desk.api.device.finishTurn({
      messageId: m.id,
      status: "failed",
      error: "API key missing",
    });
    expect(failed).toMatchObject({ status: "failed", error: "API key missing" });
    const again = await desk.api.device.finishTurn({ messageId: m.id, status: "failed" });
    expect(again.txid).toBeNull();
  });
});
