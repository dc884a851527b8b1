import { chatParticipants } from "@superset/db/schema";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, type TestUser } from "./support/harness";

let h: Harness;
let ann: TestUser;
let bob: TestUser;
let cy: TestUser;

beforeAll(async () => {
  h = await createHarness();
  ann = await h.user("Ann");
  bob = await h.user("Bob", { joinOrganizationId: ann.organizationId });
  cy = await h.user("Cy", { joinOrganizationId: ann.organizationId });
});
afterAll(() => h.drop());

const newSession = () => ann.api.chat.createSession({ title: "Team" });

describe("participants", () => {
  it("adds a member by id or email (case-insensitive) and lists everyone with names", async () => {
    const s = await newSession();
    const added = await ann.api.chat.addParticipant({ sessionId: s.id, userId: bob.id, role: "editor" });
    expect(added).toMatchObject({ userId: bob.id, role: "editor", name: "Bob" });
    expect(added.txid).toMatch(/^\d+$/);
    await ann.api.chat.addParticipant({ sessionId: s.id, email: cy.email.toUpperCase() });
    const list = await bob.api.chat.listParticipants({ sessionId: s.id });
    expect(list.map((p) => [p.name, p.role])).toEqual([
      ["Ann", "owner"],
      ["Bob", "editor"],
      ["Cy", "viewer"],
    ]);
    // Bob now sees the session in his list.
    expect((await bob.api.chat.listSessions({})).items.map((x) => x.id)).toContain(s.id);
  });

  it("refuses a duplicate, a non-member and another organization's user", async () => {
    const s = await newSession();
    await ann.api.chat.addParticipant({ sessionId: s.id, userId: bob.id });
    await expect(ann.api.chat.addParticipant({ sessionId: s.id, userId: bob.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("already takes part"),
    });
    const foreigner = await h.user("Foreigner");
    await expect(
      ann.api.chat.addParticipant({ sessionId: s.id, userId: foreigner.id }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: "Member of this organization not found",
    });
    await expect(
      ann.api.chat.addParticipant({ sessionId: s.id, email: "nobody@example.com" }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      ann.api.chat.addParticipant({ sessionId: s.id, userId: bob.id, email: bob.email }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("exactly one") });
    await expect(
      ann.api.chat.addParticipant({ sessionId: s.id, userId: cy.id, role: "admin" as "owner" }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("owner, editor or viewer"),
    });
  });

  it("changes roles, but never leaves a session without an owner", async () => {
    const s = await newSession();
    await ann.api.chat.addParticipant({ sessionId: s.id, userId: bob.id, role: "viewer" });
    await expect(bob.api.chat.sendMessage({ sessionId: s.id, content: "hi" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await ann.api.chat.setRole({ sessionId: s.id, userId: bob.id, role: "editor" });
    await expect(bob.api.chat.sendMessage({ sessionId: s.id, content: "hi" })).resolves.toMatchObject({
      status: "pending",
    });
    await expect(
      ann.api.chat.setRole({ sessionId: s.id, userId: ann.id, role: "editor" }),
    ).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      message: expect.stringContaining("at least one owner"),
    });
    await ann.api.chat.setRole({ sessionId: s.id, userId: bob.id, role: "owner" });
    const demoted = await bob.api.chat.setRole({ sessionId: s.id, userId: ann.id, role: "viewer" });
    expect(demoted.role).toBe("viewer");
  });

  it("lets a participant leave, and an owner remove others, but not the last owner", async () => {
    const s = await newSession();
    await ann.api.chat.addParticipant({ sessionId: s.id, userId: bob.id, role: "viewer" });
    await ann.api.chat.addParticipant({ sessionId: s.id, userId: cy.id, role: "editor" });
    await bob.api.chat.removeParticipant({ sessionId: s.id, userId: bob.id });
    await expect(bob.api.chat.getSession({ sessionId: s.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await ann.api.chat.removeParticipant({ sessionId: s.id, userId: cy.id });
    await expect(ann.api.chat.removeParticipant({ sessionId: s.id, userId: ann.id })).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
    });
    const rows = await h.db.select().from(chatParticipants).where(eq(chatParticipants.sessionId, s.id));
    expect(rows.map((r) => r.userId)).toEqual([ann.id]);
  });

  it("keeps one owner when two owners demote each other at once", async () => {
    const s = await newSession();
    await ann.api.chat.addParticipant({ sessionId: s.id, userId: bob.id, role: "owner" });
    const results = await Promise.allSettled([
      ann.api.chat.setRole({ sessionId: s.id, userId: bob.id, role: "viewer" }),
      bob.api.chat.setRole({ sessionId: s.id, userId: ann.id, role: "viewer" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const owners = (
      await h.db.select().from(chatParticipants).where(eq(chatParticipants.sessionId, s.id))
    ).filter((p) => p.role === "owner");
    expect(owners).toHaveLength(1);
  });
});
