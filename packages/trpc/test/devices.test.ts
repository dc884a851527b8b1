import { devices } from "@superset/db/schema";
import { createStreamTokenVerifier } from "@superset/stream-tokens";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashDeviceToken } from "../src/queries/devices";
import { createHarness, type Harness, STREAM_SECRET, type TestUser } from "./support/harness";

let h: Harness;
let ann: TestUser;
const verify = createStreamTokenVerifier({ secret: STREAM_SECRET });

beforeAll(async () => {
  h = await createHarness();
  ann = await h.user("Ann");
});
afterAll(() => h.drop());

describe("devices", () => {
  it("registers a device; only the credential's hash is stored and never returned", async () => {
    const registered = await ann.api.device.register({
      name: " Ann's Mac ",
      platform: "darwin",
      workspaceIds: ["w"],
    });
    expect(registered.deviceToken).toMatch(/^sdt_[A-Za-z0-9_-]{40,}$/);
    expect(registered.device).toMatchObject({ name: "Ann's Mac", ownerId: ann.id, workspaceIds: ["w"] });
    expect(registered.device).not.toHaveProperty("tokenHash");
    const [row] = await h.db.select().from(devices).where(eq(devices.id, registered.deviceId));
    expect(row?.tokenHash).toBe(hashDeviceToken(registered.deviceToken));
    expect(JSON.stringify(row)).not.toContain(registered.deviceToken);
    const listed = await ann.api.device.list();
    expect(listed.map((d) => d.id)).toContain(registered.deviceId);
    expect(listed.every((d) => !("tokenHash" in d))).toBe(true);
  });

  it("records heartbeats with the open workspaces", async () => {
    const desk = await h.device(ann, []);
    const beat = await desk.api.device.heartbeat({ workspaceIds: ["a", "b"], agentVersion: "1.2.3" });
    expect(beat).toMatchObject({ id: desk.id, workspaceIds: ["a", "b"], agentVersion: "1.2.3" });
    expect(beat).not.toHaveProperty("tokenHash");
    await expect(
      desk.api.device.heartbeat({ workspaceIds: Array.from({ length: 101 }, (_, i) => `w${i}`) }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
  });

  it("stores Claude's session id from the device that ran the session", async () => {
    const desk = await h.device(ann, ["ws-c"]);
    const other = await h.device(ann, ["ws-c"], "Other");
    const s = await ann.api.chat.createSession({ workspaceId: "ws-c" });
    await ann.api.chat.sendMessage({ sessionId: s.id, content: "hi" });
    await desk.api.device.claimNext({});
    await expect(
      other.api.device.setClaudeSessionId({ sessionId: s.id, claudeSessionId: "x" }),
    ).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    const updated = await desk.api.device.setClaudeSessionId({
      sessionId: s.id,
      claudeSessionId: "claude-123",
    });
    expect(updated.claudeSessionId).toBe("claude-123");
  });
});

describe("which desktop can run a session", () => {
  it("lists the devices with the session's workspace open, and whether they are online", async () => {
    const fresh = await h.device(ann, ["ws-who"], "Fresh");
    const stale = await h.device(ann, ["ws-who"], "Stale");
    await h.device(ann, ["ws-other"], "Elsewhere");
    await h.db
      .update(devices)
      .set({ lastSeenAt: new Date(Date.now() - 10 * 60_000) })
      .where(eq(devices.id, stale.id));
    const s = await ann.api.chat.createSession({ workspaceId: "ws-who" });
    const got = await ann.api.chat.getSession({ sessionId: s.id });
    expect(got.devices.map((d) => [d.id, d.online])).toEqual([
      [fresh.id, true],
      [stale.id, false],
    ]);
    expect(got.devices[0]).not.toHaveProperty("tokenHash");
  });
});

describe("stream tokens", () => {
  it("gives participants read and presence on the session's stream path", async () => {
    const s = await ann.api.chat.createSession({});
    const minted = await ann.api.chat.getStreamToken({ sessionId: s.id });
    expect(minted).toMatchObject({
      path: `/streams/${s.id}`,
      url: `http://127.0.0.1:8080/streams/${s.id}`,
      streamUrl: "http://127.0.0.1:8080",
      rights: ["read", "presence"],
    });
    expect(minted.expiresAt.getTime()).toBeGreaterThan(Date.now());
    const claims = await verify(minted.token);
    expect(claims).toMatchObject({
      userId: ann.id,
      organizationId: ann.organizationId,
      sessionId: s.id,
      rights: ["read", "presence"],
      name: "Ann",
    });
    expect(claims.deviceId).toBeUndefined();
  });

  it("gives a device append only while it holds a live claim in the session", async () => {
    const desk = await h.device(ann, ["ws-t"]);
    const s = await ann.api.chat.createSession({ workspaceId: "ws-t" });
    const before = await verify((await desk.api.device.getStreamToken({ sessionId: s.id })).token);
    expect(before.rights).toEqual(["read", "presence"]);
    const m = await ann.api.chat.sendMessage({ sessionId: s.id, content: "go" });
    await desk.api.device.claimNext({});
    const during = await verify((await desk.api.device.getStreamToken({ sessionId: s.id })).token);
    expect(during).toMatchObject({
      rights: ["read", "presence", "append"],
      deviceId: desk.id,
      userId: ann.id,
    });
    await desk.api.chat.saveAssistantMessage({ messageId: m.id, content: "done" });
    const after = await verify((await desk.api.device.getStreamToken({ sessionId: s.id })).token);
    expect(after.rights).not.toContain("append");
  });

  it("refuses a device whose owner does not take part and which holds no claim", async () => {
    const bob = await h.user("Bob", { joinOrganizationId: ann.organizationId });
    const bobsDesk = await h.device(bob, ["ws-x"]);
    const s = await ann.api.chat.createSession({ workspaceId: "ws-none" });
    await expect(bobsDesk.api.device.getStreamToken({ sessionId: s.id })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
  });
});
