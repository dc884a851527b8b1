import { chatApprovals, chatMessages } from "@superset/db/schema";
import type { TRPCError } from "@trpc/server";
import { eq, sql } from "drizzle-orm";
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

/** A session with a claimed message, and `editors` more members who can answer. */
async function runningTurn(editors = 0) {
  const session = await ann.api.chat.createSession({ workspaceId: "ws-1" });
  const message = await ann.api.chat.sendMessage({ sessionId: session.id, content: "run ls" });
  const claimed = await desk.api.device.claim({ messageId: message.id });
  const team: TestUser[] = [];
  for (let i = 0; i < editors; i++) {
    const member = await h.user(`Ed${i}`, { joinOrganizationId: ann.organizationId });
    await ann.api.chat.addParticipant({ sessionId: session.id, userId: member.id, role: "editor" });
    team.push(member);
  }
  return { session, message: claimed, team };
}

const request = (messageId: string, toolUseId = "toolu_1") => ({
  messageId,
  toolUseId,
  toolName: "Bash",
  toolInput: { command: "ls" },
  timeoutMs: 60_000,
});

describe("approvals", () => {
  it("lets the running device ask, and an editor answer", async () => {
    const { session, message } = await runningTurn();
    const approval = await desk.api.device.requestApproval(request(message.id));
    expect(approval).toMatchObject({ status: "pending", toolName: "Bash", toolInput: { command: "ls" } });
    expect(approval.txid).toMatch(/^\d+$/);
    expect(await ann.api.chat.listApprovals({ sessionId: session.id, status: "pending" })).toHaveLength(1);
    const answered = await ann.api.chat.answerApproval({ approvalId: approval.id, decision: "allow" });
    expect(answered).toMatchObject({ status: "allowed", decidedById: ann.id });
    expect(await desk.api.device.getApproval({ approvalId: approval.id })).toMatchObject({
      status: "allowed",
    });
  });

  it("returns the stored request when the device asks again for the same tool use", async () => {
    const { message } = await runningTurn();
    const first = await desk.api.device.requestApproval(request(message.id));
    const again = await desk.api.device.requestApproval(request(message.id));
    expect(again).toMatchObject({ id: first.id, txid: null });
  });

  it("first answer wins under concurrency; the others learn who answered what", async () => {
    const { message, team } = await runningTurn(5);
    const approval = await desk.api.device.requestApproval(request(message.id));
    const answerers = [ann, ...team];
    const results = await Promise.allSettled(
      answerers.map((u, i) =>
        u.api.chat.answerApproval({ approvalId: approval.id, decision: i % 2 === 0 ? "allow" : "deny" }),
      ),
    );
    const winners = results.filter((r) => r.status === "fulfilled");
    expect(winners).toHaveLength(1);
    const winner = (winners[0] as PromiseFulfilledResult<{ status: string; decidedById: string | null }>)
      .value;
    const winnerName = answerers.find((u) => u.id === winner.decidedById)?.name;
    for (const r of results.filter((r) => r.status === "rejected")) {
      const error = (r as PromiseRejectedResult).reason as TRPCError;
      expect(error.code).toBe("CONFLICT");
      expect(error.message).toBe(`Already answered: ${winner.status} by ${winnerName}`);
    }
    const [stored] = await h.db.select().from(chatApprovals).where(eq(chatApprovals.id, approval.id));
    expect(stored).toMatchObject({ status: winner.status, decidedById: winner.decidedById });
  });

  it("refuses an answer after the deadline", async () => {
    const { message } = await runningTurn();
    const approval = await desk.api.device.requestApproval(request(message.id));
    await h.db
      .update(chatApprovals)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(chatApprovals.id, approval.id));
    await expect(
      ann.api.chat.answerApproval({ approvalId: approval.id, decision: "allow" }),
    ).rejects.toMatchObject({
      code: "CONFLICT",
      message: "This permission request has expired",
    });
  });

  it("lets the device expire its request, but an answer that came first stands", async () => {
    const { message } = await runningTurn();
    const open = await desk.api.device.requestApproval(request(message.id, "toolu_a"));
    expect(await desk.api.device.expireApproval({ approvalId: open.id })).toMatchObject({
      status: "expired",
    });
    await expect(
      ann.api.chat.answerApproval({ approvalId: open.id, decision: "allow" }),
    ).rejects.toMatchObject({
      code: "CONFLICT",
    });
    const answered = await desk.api.device.requestApproval(request(message.id, "toolu_b"));
    await ann.api.chat.answerApproval({ approvalId: answered.id, decision: "deny", reason: "no" });
    expect(await desk.api.device.expireApproval({ approvalId: answered.id })).toMatchObject({
      status: "denied",
      reason: "no",
      txid: null,
    });
  });

  it("expires pending requests when the turn ends", async () => {
    const { message } = await runningTurn();
    const approval = await desk.api.device.requestApproval(request(message.id));
    await desk.api.chat.saveAssistantMessage({ messageId: message.id, content: "done without it" });
    expect(await desk.api.device.getApproval({ approvalId: approval.id })).toMatchObject({
      status: "expired",
    });
  });

  it("expires pending requests when the turn's lease expires", async () => {
    const { message } = await runningTurn();
    const approval = await desk.api.device.requestApproval(request(message.id));
    await h.db
      .update(chatMessages)
      .set({ leaseExpiresAt: sql`now() - interval '1 second'` })
      .where(eq(chatMessages.id, message.id));
    await desk.api.device.heartbeat({ workspaceIds: ["ws-1"] });
    await expect(
      ann.api.chat.answerApproval({ approvalId: approval.id, decision: "allow" }),
    ).rejects.toMatchObject({
      code: "CONFLICT",
      message: "This permission request has expired",
    });
  });

  it("refuses a request from a device without the claim, and bad input", async () => {
    const { message } = await runningTurn();
    const other = await h.device(ann, ["ws-1"], "Other");
    await expect(other.api.device.requestApproval(request(message.id))).rejects.toMatchObject({
      code: "CONFLICT",
    });
    await expect(
      desk.api.device.requestApproval({ ...request(message.id), timeoutMs: 10 }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("timeoutMs") });
    await expect(
      desk.api.device.requestApproval({ ...request(message.id), toolInput: { blob: "x".repeat(300_000) } }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("toolInput") });
    const { session } = await runningTurn();
    expect(await ann.api.chat.listApprovals({ sessionId: session.id })).toEqual([]);
  });
});
