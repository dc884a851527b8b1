import type { Database } from "@superset/db/client";
import { type ChatMessage, chatApprovals, chatMessages, chatSessions } from "@superset/db/schema";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { ChatError, notFound } from "../errors";
import { requireNotArchived, requireSessionRole } from "./access";
import { type Actor, currentTxid, type Executor } from "./db";
import type { DeviceIdentity } from "./devices";
import { decodeCursor, toPage } from "./pagination";

/**
 * Queues a user message (status pending). It runs nothing: a desktop with the
 * session's workspace open claims it. A client may choose the id (TanStack DB
 * optimistic inserts); sending the same id again returns the stored message.
 */
export async function sendMessage(
  db: Database,
  actor: Actor,
  input: { sessionId: string; content: string; id?: string },
) {
  return db.transaction(async (tx) => {
    // The session lock orders concurrent sends and keeps them out of an archive in progress.
    const { session } = await requireSessionRole(tx, actor, input.sessionId, "editor", "send messages", {
      lock: true,
    });
    if (input.id) {
      const [existing] = await tx.select().from(chatMessages).where(eq(chatMessages.id, input.id));
      if (existing) {
        if (existing.sessionId === session.id && existing.createdById === actor.userId) {
          return { ...existing, txid: null };
        }
        throw new ChatError("CONFLICT", "A message with this id already exists");
      }
    }
    requireNotArchived(session, "receive new messages");
    const [message] = await tx
      .insert(chatMessages)
      .values({
        ...(input.id ? { id: input.id } : {}),
        sessionId: session.id,
        organizationId: actor.organizationId,
        role: "user",
        content: input.content,
        createdById: actor.userId,
        status: "pending",
        // clock_timestamp, not now(): under the session lock it follows the order of sends.
        createdAt: sql`clock_timestamp()`,
      })
      .returning();
    await tx.update(chatSessions).set({ updatedAt: sql`now()` }).where(eq(chatSessions.id, session.id));
    return { ...(message as ChatMessage), txid: await currentTxid(tx) };
  });
}

export async function getMessages(
  db: Executor,
  actor: Actor,
  input: { sessionId: string; cursor?: string; limit: number; order: "asc" | "desc" },
) {
  await requireSessionRole(db, actor, input.sessionId, "viewer", "read its messages");
  const from = input.cursor ? decodeCursor(input.cursor) : null;
  const key = sql`(${chatMessages.createdAt}, ${chatMessages.id})`;
  const bound = from ? sql`(${from.at}::timestamptz, ${from.id}::uuid)` : null;
  const rows = await db
    .select({ message: chatMessages, cursorAt: sql<string>`${chatMessages.createdAt}::text` })
    .from(chatMessages)
    .where(
      and(
        eq(chatMessages.sessionId, input.sessionId),
        eq(chatMessages.organizationId, actor.organizationId),
        bound ? (input.order === "asc" ? sql`${key} > ${bound}` : sql`${key} < ${bound}`) : undefined,
      ),
    )
    .orderBy(
      ...(input.order === "asc"
        ? [asc(chatMessages.createdAt), asc(chatMessages.id)]
        : [desc(chatMessages.createdAt), desc(chatMessages.id)]),
    )
    .limit(input.limit + 1);
  return toPage(
    rows.map((r) => ({ ...r.message, cursorAt: r.cursorAt })),
    input.limit,
  );
}

/** The user message, locked, if it belongs to the device's organization. */
async function lockUserMessage(tx: Executor, organizationId: string, messageId: string) {
  const [message] = await tx
    .select()
    .from(chatMessages)
    .where(
      and(
        eq(chatMessages.id, messageId),
        eq(chatMessages.organizationId, organizationId),
        eq(chatMessages.role, "user"),
      ),
    )
    .for("update");
  if (!message) throw notFound("Message");
  return message;
}

function requireClaimant(message: ChatMessage, device: DeviceIdentity) {
  if (message.claimedByDeviceId !== device.id) {
    throw new ChatError("FORBIDDEN", "This device does not hold the claim on this message");
  }
}

/**
 * Stores the answer to a user message and marks that message done, in one
 * transaction. A retry (after a timeout, say) returns the stored answer with
 * `txid: null` instead of writing a second one.
 */
export async function saveAssistantMessage(
  db: Database,
  device: DeviceIdentity,
  input: {
    messageId: string;
    content: string;
    toolCalls?: unknown;
    inputTokens?: number;
    outputTokens?: number;
    costUsd?: number;
  },
) {
  return db.transaction(async (tx) => {
    const prompt = await lockUserMessage(tx, device.organizationId, input.messageId);
    requireClaimant(prompt, device);
    const [existing] = await tx.select().from(chatMessages).where(eq(chatMessages.replyToId, prompt.id));
    if (existing) return { ...existing, created: false, txid: null };
    if (prompt.status !== "claimed" && prompt.status !== "pending") {
      throw new ChatError("CONFLICT", `This message is already ${prompt.status}`);
    }
    const [answer] = await tx
      .insert(chatMessages)
      .values({
        sessionId: prompt.sessionId,
        organizationId: prompt.organizationId,
        role: "assistant",
        content: input.content,
        toolCalls: input.toolCalls ?? null,
        inputTokens: input.inputTokens ?? null,
        outputTokens: input.outputTokens ?? null,
        costUsd: input.costUsd === undefined ? null : String(input.costUsd),
        createdById: device.ownerId,
        replyToId: prompt.id,
        status: "done",
        completedAt: sql`now()`,
        createdAt: sql`clock_timestamp()`,
      })
      .returning();
    await tx
      .update(chatMessages)
      .set({ status: "done", leaseExpiresAt: null, completedAt: sql`now()` })
      .where(eq(chatMessages.id, prompt.id));
    await expirePendingApprovals(tx, prompt.id);
    await tx.update(chatSessions).set({ updatedAt: sql`now()` }).where(eq(chatSessions.id, prompt.sessionId));
    return { ...(answer as ChatMessage), created: true, txid: await currentTxid(tx) };
  });
}

/** Ends a turn without an answer: the user stopped it, or it failed on the device. */
export async function finishTurn(
  db: Database,
  device: DeviceIdentity,
  input: { messageId: string; status: "interrupted" | "failed"; error?: string },
) {
  return db.transaction(async (tx) => {
    const message = await lockUserMessage(tx, device.organizationId, input.messageId);
    requireClaimant(message, device);
    if (message.status === input.status) return { ...message, txid: null };
    if (message.status !== "claimed" && message.status !== "pending") {
      throw new ChatError("CONFLICT", `This message is already ${message.status}`);
    }
    const [finished] = await tx
      .update(chatMessages)
      .set({
        status: input.status,
        error: input.error ?? (input.status === "failed" ? "The turn failed on the desktop" : null),
        leaseExpiresAt: null,
        completedAt: sql`now()`,
      })
      .where(eq(chatMessages.id, message.id))
      .returning();
    await expirePendingApprovals(tx, message.id);
    return { ...(finished as ChatMessage), txid: await currentTxid(tx) };
  });
}

/**
 * The stop button: asks the desktop running the session's turn to stop
 * (it sees `interrupt_requested_at` through Electric or renewLease). A queued
 * message that no device has claimed yet is interrupted at once. Without
 * `messageId` the target is the running message, else the oldest queued one;
 * with nothing to stop the result is `{ message: null, txid: null }`.
 */
export async function interruptTurn(
  db: Database,
  actor: Actor,
  input: { sessionId: string; messageId?: string },
) {
  return db.transaction(async (tx) => {
    await requireSessionRole(tx, actor, input.sessionId, "editor", "interrupt a turn");
    const [target] = await tx
      .select()
      .from(chatMessages)
      .where(
        and(
          eq(chatMessages.sessionId, input.sessionId),
          eq(chatMessages.role, "user"),
          inArray(chatMessages.status, ["pending", "claimed"]),
          input.messageId ? eq(chatMessages.id, input.messageId) : undefined,
        ),
      )
      .orderBy(
        sql`${chatMessages.status} = 'claimed' desc`,
        asc(chatMessages.createdAt),
        asc(chatMessages.id),
      )
      .limit(1)
      .for("update");
    if (!target) {
      if (input.messageId) {
        const [message] = await tx
          .select({ status: chatMessages.status })
          .from(chatMessages)
          .where(and(eq(chatMessages.id, input.messageId), eq(chatMessages.sessionId, input.sessionId)));
        if (!message) throw notFound("Message");
        throw new ChatError("CONFLICT", `This message is already ${message.status}`);
      }
      return { message: null, txid: null };
    }
    if (target.status === "claimed" && target.interruptRequestedAt) return { message: target, txid: null };
    const [message] = await tx
      .update(chatMessages)
      .set({
        interruptRequestedAt: sql`now()`,
        interruptRequestedById: actor.userId,
        ...(target.status === "pending" ? { status: "interrupted", completedAt: sql`now()` } : {}),
      })
      .where(eq(chatMessages.id, target.id))
      .returning();
    return { message: message as ChatMessage, txid: await currentTxid(tx) };
  });
}

/** Pending permission requests of a finished turn can no longer be answered. */
export async function expirePendingApprovals(tx: Executor, messageId: string): Promise<void> {
  await tx
    .update(chatApprovals)
    .set({ status: "expired" })
    .where(and(eq(chatApprovals.messageId, messageId), eq(chatApprovals.status, "pending")));
}
