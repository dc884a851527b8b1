import type { Database } from "@superset/db/client";
import { chatParticipants, members, users } from "@superset/db/schema";
import { and, asc, eq, sql } from "drizzle-orm";
import { ChatError, notFound } from "../errors";
import { requireSessionRole, type SessionRole } from "./access";
import { type Actor, currentTxid, type Executor } from "./db";

export async function listParticipants(db: Executor, actor: Actor, sessionId: string) {
  await requireSessionRole(db, actor, sessionId, "viewer", "see its participants");
  return db
    .select({
      userId: chatParticipants.userId,
      role: chatParticipants.role,
      joinedAt: chatParticipants.joinedAt,
      name: users.name,
      email: users.email,
    })
    .from(chatParticipants)
    .innerJoin(users, eq(users.id, chatParticipants.userId))
    .where(
      and(
        eq(chatParticipants.sessionId, sessionId),
        eq(chatParticipants.organizationId, actor.organizationId),
      ),
    )
    .orderBy(asc(chatParticipants.joinedAt), asc(chatParticipants.userId));
}

/** A member of the actor's organization, by id or email. */
async function findMember(ex: Executor, organizationId: string, who: { userId?: string; email?: string }) {
  const [member] = await ex
    .select({ userId: users.id, name: users.name, email: users.email })
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(
      and(
        eq(members.organizationId, organizationId),
        who.userId
          ? eq(users.id, who.userId)
          : eq(sql`lower(${users.email})`, (who.email ?? "").toLowerCase()),
      ),
    );
  if (!member) throw notFound("Member of this organization");
  return member;
}

export async function addParticipant(
  db: Database,
  actor: Actor,
  input: { sessionId: string; userId?: string; email?: string; role: SessionRole },
) {
  return db.transaction(async (tx) => {
    await requireSessionRole(tx, actor, input.sessionId, "owner", "add participants", { lock: true });
    const member = await findMember(tx, actor.organizationId, input);
    const [added] = await tx
      .insert(chatParticipants)
      .values({
        sessionId: input.sessionId,
        organizationId: actor.organizationId,
        userId: member.userId,
        role: input.role,
      })
      .onConflictDoNothing({ target: [chatParticipants.sessionId, chatParticipants.userId] })
      .returning();
    if (!added)
      throw new ChatError("CONFLICT", `${member.name} already takes part in this session: use setRole`);
    return { ...added, name: member.name, email: member.email, txid: await currentTxid(tx) };
  });
}

async function lockParticipant(tx: Executor, sessionId: string, userId: string) {
  const [participant] = await tx
    .select()
    .from(chatParticipants)
    .where(and(eq(chatParticipants.sessionId, sessionId), eq(chatParticipants.userId, userId)))
    .for("update");
  if (!participant) throw notFound("Participant");
  return participant;
}

async function requireAnotherOwner(tx: Executor, sessionId: string, userId: string) {
  const [row] = await tx
    .select({ count: sql<number>`count(*)::int` })
    .from(chatParticipants)
    .where(
      and(
        eq(chatParticipants.sessionId, sessionId),
        eq(chatParticipants.role, "owner"),
        sql`${chatParticipants.userId} <> ${userId}`,
      ),
    );
  if (!row || row.count === 0) {
    throw new ChatError(
      "PRECONDITION_FAILED",
      "A session needs at least one owner: make someone else owner first",
    );
  }
}

/** An owner removes anyone; any participant may leave. The last owner cannot go. */
export async function removeParticipant(
  db: Database,
  actor: Actor,
  input: { sessionId: string; userId: string },
) {
  return db.transaction(async (tx) => {
    const leaving = input.userId === actor.userId;
    await requireSessionRole(
      tx,
      actor,
      input.sessionId,
      leaving ? "viewer" : "owner",
      "remove participants",
      {
        lock: true,
      },
    );
    const participant = await lockParticipant(tx, input.sessionId, input.userId);
    if (participant.role === "owner") await requireAnotherOwner(tx, input.sessionId, input.userId);
    await tx.delete(chatParticipants).where(eq(chatParticipants.id, participant.id));
    return { sessionId: input.sessionId, userId: input.userId, txid: await currentTxid(tx) };
  });
}

export async function setRole(
  db: Database,
  actor: Actor,
  input: { sessionId: string; userId: string; role: SessionRole },
) {
  return db.transaction(async (tx) => {
    await requireSessionRole(tx, actor, input.sessionId, "owner", "change roles", { lock: true });
    const participant = await lockParticipant(tx, input.sessionId, input.userId);
    if (participant.role === input.role) return { ...participant, txid: null };
    if (participant.role === "owner") await requireAnotherOwner(tx, input.sessionId, input.userId);
    const [updated] = await tx
      .update(chatParticipants)
      .set({ role: input.role })
      .where(eq(chatParticipants.id, participant.id))
      .returning();
    return { ...(updated as typeof participant), txid: (await currentTxid(tx)) as string | null };
  });
}
