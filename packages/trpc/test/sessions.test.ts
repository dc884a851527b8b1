import { chatSessions } from "@superset/db/schema";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, type TestUser } from "./support/harness";

let h: Harness;
let ann: TestUser;

beforeAll(async () => {
  h = await createHarness();
  ann = await h.user("Ann");
});
afterAll(() => h.drop());

describe("chat sessions", () => {
  it("creates a session owned by its creator and returns the transaction id", async () => {
    const created = await ann.api.chat.createSession({ title: "  Fix the build  ", workspaceId: "ws-1" });
    expect(created).toMatchObject({ title: "Fix the build", workspaceId: "ws-1", role: "owner" });
    expect(created.organizationId).toBe(ann.organizationId);
    expect(created.txid).toMatch(/^\d+$/);
    const participants = await ann.api.chat.listParticipants({ sessionId: created.id });
    expect(participants).toEqual([expect.objectContaining({ userId: ann.id, role: "owner", name: "Ann" })]);
  });

  it("gives a default title", async () => {
    const created = await ann.api.chat.createSession({});
    expect(created.title).toBe("New chat");
  });

  it("refuses a repository of another organization", async () => {
    const bob = await h.user("Bob");
    const repoId = await h.repository(bob.organizationId);
    await expect(ann.api.chat.createSession({ repositoryId: repoId })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: "Repository not found",
    });
    const mine = await bob.api.chat.createSession({ repositoryId: repoId });
    expect(mine.repositoryId).toBe(repoId);
  });

  it("gets a session with the caller's role", async () => {
    const created = await ann.api.chat.createSession({ title: "Get me" });
    const got = await ann.api.chat.getSession({ sessionId: created.id });
    expect(got).toMatchObject({ id: created.id, title: "Get me", role: "owner", runningMessageId: null });
    expect(got.pendingMessageIds).toEqual([]);
  });

  it("renames a session with a trimmed, bounded title", async () => {
    const created = await ann.api.chat.createSession({ title: "Old" });
    const renamed = await ann.api.chat.updateSession({ sessionId: created.id, title: "  New name " });
    expect(renamed.title).toBe("New name");
    expect(renamed.txid).toMatch(/^\d+$/);
    await expect(ann.api.chat.updateSession({ sessionId: created.id, title: "   " })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("Title cannot be empty"),
    });
    await expect(
      ann.api.chat.updateSession({ sessionId: created.id, title: "x".repeat(201) }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("at most 200") });
  });

  it("archives a session: it refuses new messages, and archiving again changes nothing", async () => {
    const created = await ann.api.chat.createSession({ title: "Done" });
    const queued = await ann.api.chat.sendMessage({ sessionId: created.id, content: "queued" });
    const archived = await ann.api.chat.archiveSession({ sessionId: created.id });
    expect(archived.archivedAt).toBeInstanceOf(Date);
    expect(archived.txid).toMatch(/^\d+$/);
    const again = await ann.api.chat.archiveSession({ sessionId: created.id });
    expect(again.txid).toBeNull();
    await expect(ann.api.chat.sendMessage({ sessionId: created.id, content: "more" })).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      message: expect.stringContaining("archived"),
    });
    const { items } = await ann.api.chat.getMessages({ sessionId: created.id });
    expect(items.find((m) => m.id === queued.id)?.status).toBe("interrupted");
  });

  it("lists the caller's sessions, newest activity first, page by page", async () => {
    const carl = await h.user("Carl");
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await carl.api.chat.createSession({ title: `s${i}` })).id);
    // Activity moves a session to the top.
    await carl.api.chat.sendMessage({ sessionId: ids[2] as string, content: "bump" });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pageNo = 0; pageNo < 10; pageNo++) {
      const page = await carl.api.chat.listSessions({ limit: 3, cursor });
      seen.push(...page.items.map((s) => s.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    expect(seen[0]).toBe(ids[2]);
    expect(seen.slice(1)).toEqual([ids[6], ids[5], ids[4], ids[3], ids[1], ids[0]]);
  });

  it("filters by repository and hides archived sessions unless asked", async () => {
    const dora = await h.user("Dora");
    const repoId = await h.repository(dora.organizationId);
    const inRepo = await dora.api.chat.createSession({ repositoryId: repoId });
    const other = await dora.api.chat.createSession({});
    const listed = await dora.api.chat.listSessions({ repositoryId: repoId });
    expect(listed.items.map((s) => s.id)).toEqual([inRepo.id]);
    await dora.api.chat.archiveSession({ sessionId: other.id });
    expect((await dora.api.chat.listSessions({})).items.map((s) => s.id)).toEqual([inRepo.id]);
    const all = await dora.api.chat.listSessions({ includeArchived: true });
    expect(all.items.map((s) => s.id).sort()).toEqual([inRepo.id, other.id].sort());
  });

  it("rejects a forged cursor with a clear message", async () => {
    await expect(ann.api.chat.listSessions({ cursor: "bm90LWEtY3Vyc29y" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("Invalid cursor"),
    });
  });

  it("validates ids and limits", async () => {
    await expect(ann.api.chat.getSession({ sessionId: "not-a-uuid" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("sessionId must be a UUID"),
    });
    await expect(ann.api.chat.listSessions({ limit: 1000 })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    const before = await h.db.select().from(chatSessions).where(eq(chatSessions.createdById, ann.id));
    await expect(ann.api.chat.createSession({ title: "x".repeat(500) })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    const after = await h.db.select().from(chatSessions).where(eq(chatSessions.createdById, ann.id));
    expect(after).toHaveLength(before.length);
  });
});
