import type { Database } from "@superset/db/client";
import { type ChatApproval, chatApprovals, chatMessages, users } from "@superset/db/schema";
import { and, asc, eq, sql } from "drizzle-orm";
import { ChatError, notFound } from "../errors";
import { requireSessionRole } from "./access";
import { type Actor, currentTxid, type Executor } from "./db";
import type { DeviceIdentity } from "./devices";

/**
 * Tool-permission requests. The desktop running a turn posts one; any editor
 * of the session answers; the first answer wins (a conditional update on
 * `status = 'pending'`), later ones get CONFLICT saying who answered what.
 */

export async function requestApproval(
  db: Database,
  device: DeviceIdentity,
  input: { messageId: string; toolUseId: string; toolName: string; toolInput: unknown; timeoutMs: number },
) {
  return db.transaction(async (tx) => {
    const [message] = await tx
      .select()
      .from(chatMessages)
      .where(
        and(
          eq(chatMessages.id, input.messageId),
          eq(chatMessages.organizationId, device.organizationId),
          eq(chatMessages.role, "user"),
        ),
      )
      .for("share");
    if (!message) throw notFound("Message");
    if (message.claimedByDeviceId !== device.id || message.status !== "claimed") {
      throw new ChatError("CONFLICT", "This device does not hold a running claim on this message");
    }
    const [created] = await tx
      .insert(chatApprovals)
      .values({
        sessionId: message.sessionId,
        organizationId: message.organizationId,
        messageId: message.id,
        deviceId: device.id,
        toolUseId: input.toolUseId,
        toolName: input.toolName,
        toolInput: input.toolInput ?? {},
        expiresAt: sql`now() + ${input.timeoutMs}::integer * interval '1 millisecond'`,
      })
      .onConflictDoNothing({ target: [chatApprovals.messageId, chatApprovals.toolUseId] })
      .returning();
    if (created) return { ...created, txid: (await currentTxid(tx)) as string | null };
    // The same request again (a retry): the stored one, whatever became of it.
    const [existing] = await tx
      .select()
      .from(chatApprovals)
      .where(and(eq(chatApprovals.messageId, message.id), eq(chatApprovals.toolUseId, input.toolUseId)));
    return { ...(existing as ChatApproval), txid: null };
  });
}

async function approvalWithDecider(ex: Executor, organizationId: string, approvalId: string) {
  const [row] = await ex
    .select({ approval: chatApprovals, deciderName: users.name })
    .from(chatApprovals)
    .leftJoin(users, eq(users.id, chatApprovals.decidedById))
    .where(and(eq(chatApprovals.id, approvalId), eq(chatApprovals.organizationId, organizationId)));
  return row;
}

export async function answerApproval(
  db: Database,
  actor: Actor,
  input: { approvalId: string; decision: "allow" | "deny"; reason?: string },
) {
  return db.transaction(async (tx) => {
    const found = await approvalWithDecider(tx, actor.organizationId, input.approvalId);
    if (!found) throw notFound("Approval request");
    await requireSessionRole(tx, actor, found.approval.sessionId, "editor", "answer permission requests");
    const [answered] = await tx
      .update(chatApprovals)
      .set({
        status: input.decision === "allow" ? "allowed" : "denied",
        decidedById: actor.userId,
        decidedAt: sql`now()`,
        reason: input.reason ?? null,
      })
      .where(
        and(
          eq(chatApprovals.id, input.approvalId),
          eq(chatApprovals.status, "pending"),
          sql`${chatApprovals.expiresAt} > now()`,
        ),
      )
      .returning();
    if (answered) return { ...answered, txid: await currentTxid(tx) };
    // Lost the race, or too late: say who answered what.
    const current = await approvalWithDecider(tx, actor.organizationId, input.approvalId);
    const approval = current?.approval ?? found.approval;
    if (approval.status === "allowed" || approval.status === "denied") {
      throw new ChatError(
        "CONFLICT",
        `Already answered: ${approval.status} by ${current?.deciderName ?? "someone else"}`,
        {
          status: approval.status,
          decidedById: approval.decidedById,
          decidedByName: current?.deciderName ?? null,
          decidedAt: approval.decidedAt,
        },
      );
    }
    throw new ChatError("CONFLICT", "This permission request has expired", { status: "expired" });
  });
}

/** The requesting device gives up waiting; an answer that came first stands and is returned. */
export async function expireApproval(db: Database, device: DeviceIdentity, approvalId: string) {
  return db.transaction(async (tx) => {
    const [approval] = await tx
      .select()
      .from(chatApprovals)
      .where(and(eq(chatApprovals.id, approvalId), eq(chatApprovals.organizationId, device.organizationId)))
      .for("update");
    if (!approval) throw notFound("Approval request");
    if (approval.deviceId !== device.id) {
      throw new ChatError("FORBIDDEN", "Only the device that asked can expire this permission request");
    }
    if (approval.status !== "pending") return { ...approval, txid: null };
    const [expired] = await tx
      .update(chatApprovals)
      .set({ status: "expired" })
      .where(eq(chatApprovals.id, approvalId))
      .returning();
    return { ...(expired as ChatApproval), txid: (await currentTxid(tx)) as string | null };
  });
}

/** The device polls its own request (when it does not follow Electric). */
export async function getApprovalForDevice(db: Executor, device: DeviceIdentity, approvalId: string) {
  const [approval] = await db
    .select()
    .from(chatApprovals)
    .where(and(eq(chatApprovals.id, approvalId), eq(chatApprovals.organizationId, device.organizationId)));
  if (!approval || approval.deviceId !== device.id) throw notFound("Approval request");
  return approval;
}

export async function listApprovals(
  db: Executor,
  actor: Actor,
  input: { sessionId: string; status?: ChatApproval["status"] },
) {
  await requireSessionRole(db, actor, input.sessionId, "viewer", "see its permission requests");
  return db
    .select()
    .from(chatApprovals)
    .where(
      and(
        eq(chatApprovals.sessionId, input.sessionId),
        eq(chatApprovals.organizationId, actor.organizationId),
        input.status ? eq(chatApprovals.status, input.status) : undefined,
      ),
    )
    .orderBy(asc(chatApprovals.createdAt), asc(chatApprovals.id));
}
