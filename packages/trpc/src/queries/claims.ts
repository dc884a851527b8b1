import type { Database } from "@superset/db/client";
import { type ChatMessage, chatApprovals, chatMessages, chatSessions } from "@superset/db/schema";
import { and, asc, eq, gt, inArray, isNull, sql } from "drizzle-orm";
import { ChatError, notFound } from "../errors";
import { currentTxid, type Executor } from "./db";
import type { DeviceIdentity } from "./devices";

/**
 * Claims and leases. A device claims a pending user message (status claimed,
 * `claimed_by_device_id`, `lease_expires_at`, `claim_count + 1`) and renews the
 * lease while the turn runs. An expired lease puts the message back to pending,
 * unless it was the `maxClaims`-th claim (then failed, with the reason) or an
 * interrupt was requested (then interrupted). `claimed_by_device_id` keeps the
 * last claimant, so a device whose lease lapsed can still save its answer as
 * long as no other device has claimed the message since.
 */

const leaseEnd = (leaseMs: number) => sql`now() + ${leaseMs}::integer * interval '1 millisecond'`;

/** No earlier user message of the same session is queued or running. */
const isNextInSession = sql`not exists (
  select 1 from chat_messages earlier
  where earlier.session_id = ${chatMessages.sessionId}
    and earlier.role = 'user'
    and earlier.status in ('pending', 'claimed')
    and (earlier.created_at, earlier.id) < (${chatMessages.createdAt}, ${chatMessages.id})
)`;

/** Joins a message to its session (of the same organization). */
const messageSession = and(
  eq(chatSessions.id, chatMessages.sessionId),
  eq(chatSessions.organizationId, chatMessages.organizationId),
);

/** Sweeps expired leases; returns how many messages went back to pending, failed or interrupted. */
export async function expireLeases(db: Executor, options: { maxClaims: number }) {
  const rows = await db
    .update(chatMessages)
    .set({
      status: sql`case
        when ${chatMessages.interruptRequestedAt} is not null then 'interrupted'
        when ${chatMessages.claimCount} >= ${options.maxClaims} then 'failed'
        else 'pending' end`,
      error: sql`case
        when ${chatMessages.interruptRequestedAt} is null and ${chatMessages.claimCount} >= ${options.maxClaims}
        then 'No desktop finished this turn: its lease expired ' || ${chatMessages.claimCount} || ' times'
        else ${chatMessages.error} end`,
      completedAt: sql`case
        when ${chatMessages.interruptRequestedAt} is not null or ${chatMessages.claimCount} >= ${options.maxClaims}
        then now() else ${chatMessages.completedAt} end`,
      // The turn ends here and nobody holds append rights: the API's sweeper writes its end on the stream.
      streamEndPendingAt: sql`case
        when ${chatMessages.interruptRequestedAt} is not null or ${chatMessages.claimCount} >= ${options.maxClaims}
        then now() else ${chatMessages.streamEndPendingAt} end`,
      leaseExpiresAt: null,
    })
    // role = 'user' lets the planner use the partial index of open user messages.
    .where(
      and(
        eq(chatMessages.role, "user"),
        eq(chatMessages.status, "claimed"),
        sql`${chatMessages.leaseExpiresAt} <= now()`,
      ),
    )
    .returning({ id: chatMessages.id, status: chatMessages.status });
  if (rows.length > 0) {
    // The turns are over: their open permission requests can no longer be answered.
    await db
      .update(chatApprovals)
      .set({ status: "expired" })
      .where(
        and(
          eq(chatApprovals.status, "pending"),
          inArray(
            chatApprovals.messageId,
            rows.map((r) => r.id),
          ),
        ),
      );
  }
  return {
    requeued: rows.filter((r) => r.status === "pending").length,
    failed: rows.filter((r) => r.status === "failed").length,
    interrupted: rows.filter((r) => r.status === "interrupted").length,
  };
}

/** Permission requests past their deadline, or of turns that ended, become expired. */
export async function expireApprovals(db: Executor): Promise<number> {
  const rows = await db
    .update(chatApprovals)
    .set({ status: "expired" })
    .where(
      and(
        eq(chatApprovals.status, "pending"),
        sql`(${chatApprovals.expiresAt} <= now() or not exists (
          select 1 from chat_messages m where m.id = ${chatApprovals.messageId} and m.status = 'claimed'))`,
      ),
    )
    .returning({ id: chatApprovals.id });
  return rows.length;
}

type ClaimResult = ChatMessage & { txid: string | null };

async function takeClaim(tx: Executor, messageId: string, device: DeviceIdentity, leaseMs: number) {
  const [claimed] = await tx
    .update(chatMessages)
    .set({
      status: "claimed",
      claimedByDeviceId: device.id,
      leaseExpiresAt: leaseEnd(leaseMs),
      claimCount: sql`${chatMessages.claimCount} + 1`,
    })
    .where(eq(chatMessages.id, messageId))
    .returning();
  return claimed as ChatMessage;
}

/**
 * The oldest claimable message for this device: pending, in a live session of
 * its organization whose workspace it has open, with nothing earlier of that
 * session queued or running. Concurrent callers never get the same message
 * (row locks, SKIP LOCKED). `null` when there is nothing to do.
 */
export async function claimNext(
  db: Database,
  device: DeviceIdentity,
  options: { leaseMs: number; maxClaims: number; sessionId?: string },
): Promise<ClaimResult | null> {
  await expireLeases(db, options);
  if (device.workspaceIds.length === 0) return null;
  return db.transaction(async (tx) => {
    const [next] = await tx
      .select({ id: chatMessages.id })
      .from(chatMessages)
      .innerJoin(chatSessions, messageSession)
      .where(
        and(
          eq(chatMessages.organizationId, device.organizationId),
          eq(chatMessages.role, "user"),
          eq(chatMessages.status, "pending"),
          isNull(chatSessions.archivedAt),
          inArray(chatSessions.workspaceId, device.workspaceIds),
          options.sessionId ? eq(chatMessages.sessionId, options.sessionId) : undefined,
          isNextInSession,
        ),
      )
      .orderBy(asc(chatMessages.createdAt), asc(chatMessages.id))
      .limit(1)
      .for("update", { of: chatMessages, skipLocked: true });
    if (!next) return null;
    const claimed = await takeClaim(tx, next.id, device, options.leaseMs);
    return { ...claimed, txid: await currentTxid(tx) };
  });
}

/** Claims one given message (the host saw it through Electric); says why when it cannot. */
export async function claimMessage(
  db: Database,
  device: DeviceIdentity,
  options: { leaseMs: number; maxClaims: number; messageId: string },
): Promise<ClaimResult> {
  await expireLeases(db, options);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select({ message: chatMessages, session: chatSessions })
      .from(chatMessages)
      .innerJoin(chatSessions, messageSession)
      .where(
        and(
          eq(chatMessages.id, options.messageId),
          eq(chatMessages.organizationId, device.organizationId),
          eq(chatMessages.role, "user"),
        ),
      )
      .for("update", { of: chatMessages });
    if (!row) throw notFound("Message");
    const { message, session } = row;
    if (message.status === "claimed" && message.claimedByDeviceId === device.id) {
      return { ...message, txid: null };
    }
    if (message.status === "claimed")
      throw new ChatError("CONFLICT", "Another device has claimed this message");
    if (message.status !== "pending")
      throw new ChatError("CONFLICT", `This message is already ${message.status}`);
    if (session.archivedAt) throw new ChatError("PRECONDITION_FAILED", "This session is archived");
    if (!session.workspaceId || !device.workspaceIds.includes(session.workspaceId)) {
      throw new ChatError("PRECONDITION_FAILED", "This device does not have the session's workspace open");
    }
    const [blocked] = await tx
      .select({ id: chatMessages.id })
      .from(chatMessages)
      .where(and(eq(chatMessages.id, message.id), sql`not ${isNextInSession}`));
    if (blocked) {
      throw new ChatError("CONFLICT", "An earlier message of this session is still queued or running");
    }
    const claimed = await takeClaim(tx, message.id, device, options.leaseMs);
    return { ...claimed, txid: await currentTxid(tx) };
  });
}

const LOST_CLAIM =
  "This device no longer holds the claim on this message (its lease expired or the turn ended)";

/**
 * Extends the lease of a running turn. The answer carries `interruptRequestedAt`,
 * so a host that polls here learns about the stop button too.
 */
export async function renewLease(
  db: Database,
  device: DeviceIdentity,
  options: { leaseMs: number; messageId: string },
) {
  return db.transaction(async (tx) => {
    const [renewed] = await tx
      .update(chatMessages)
      .set({ leaseExpiresAt: leaseEnd(options.leaseMs) })
      .where(
        and(
          eq(chatMessages.id, options.messageId),
          eq(chatMessages.organizationId, device.organizationId),
          eq(chatMessages.claimedByDeviceId, device.id),
          eq(chatMessages.status, "claimed"),
          gt(chatMessages.leaseExpiresAt, sql`now()`),
        ),
      )
      .returning({
        id: chatMessages.id,
        leaseExpiresAt: chatMessages.leaseExpiresAt,
        interruptRequestedAt: chatMessages.interruptRequestedAt,
      });
    if (!renewed) throw new ChatError("CONFLICT", LOST_CLAIM);
    return { ...renewed, txid: await currentTxid(tx) };
  });
}

/** Gives a claimed message back (the host is shutting down): pending again, or interrupted if a stop was asked. */
export async function releaseClaim(db: Database, device: DeviceIdentity, messageId: string) {
  return db.transaction(async (tx) => {
    const [released] = await tx
      .update(chatMessages)
      .set({
        status: sql`case when ${chatMessages.interruptRequestedAt} is null then 'pending' else 'interrupted' end`,
        completedAt: sql`case when ${chatMessages.interruptRequestedAt} is null then null else now() end`,
        claimedByDeviceId: null,
        leaseExpiresAt: null,
      })
      .where(
        and(
          eq(chatMessages.id, messageId),
          eq(chatMessages.organizationId, device.organizationId),
          eq(chatMessages.claimedByDeviceId, device.id),
          eq(chatMessages.status, "claimed"),
        ),
      )
      .returning();
    if (!released) throw new ChatError("CONFLICT", LOST_CLAIM);
    await tx
      .update(chatApprovals)
      .set({ status: "expired" })
      .where(and(eq(chatApprovals.messageId, messageId), eq(chatApprovals.status, "pending")));
    return { ...released, txid: await currentTxid(tx) };
  });
}
