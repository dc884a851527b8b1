import {
  type ChatSession,
  chatMessages,
  chatParticipants,
  chatSessions,
  devices,
  repositories,
} from "@superset/db/schema";
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { notFound } from "../errors";
import { requireSessionRole } from "./access";
import { type Actor, currentTxid, type Executor } from "./db";
import { decodeCursor, toPage } from "./pagination";

export const DEFAULT_SESSION_TITLE = "New chat";

export async function createSession(
  db: Executor,
  actor: Actor,
  input: { repositoryId?: string; workspaceId?: string; title?: string; cwd?: string },
) {
  return db.transaction(async (tx) => {
    if (input.repositoryId) {
      const [repository] = await tx
        .select({ id: repositories.id })
        .from(repositories)
        .where(
          and(eq(repositories.id, input.repositoryId), eq(repositories.organizationId, actor.organizationId)),
        );
      if (!repository) throw notFound("Repository");
    }
    const [session] = await tx
      .insert(chatSessions)
      .values({
        organizationId: actor.organizationId,
        repositoryId: input.repositoryId ?? null,
        workspaceId: input.workspaceId ?? null,
        cwd: input.cwd ?? null,
        title: input.title ?? DEFAULT_SESSION_TITLE,
        createdById: actor.userId,
      })
      .returning();
    if (!session) throw new Error("session insert returned nothing");
    await tx.insert(chatParticipants).values({
      sessionId: session.id,
      organizationId: actor.organizationId,
      userId: actor.userId,
      role: "owner",
    });
    return { ...session, role: "owner" as const, txid: await currentTxid(tx) };
  });
}

/** Sessions the actor takes part in, most recently active first. */
export async function listSessions(
  db: Executor,
  actor: Actor,
  input: { repositoryId?: string; includeArchived?: boolean; cursor?: string; limit: number },
) {
  const after = input.cursor ? decodeCursor(input.cursor) : null;
  const rows = await db
    .select({
      session: chatSessions,
      role: chatParticipants.role,
      cursorAt: sql<string>`${chatSessions.updatedAt}::text`,
    })
    .from(chatSessions)
    .innerJoin(
      chatParticipants,
      and(eq(chatParticipants.sessionId, chatSessions.id), eq(chatParticipants.userId, actor.userId)),
    )
    .where(
      and(
        eq(chatSessions.organizationId, actor.organizationId),
        input.repositoryId ? eq(chatSessions.repositoryId, input.repositoryId) : undefined,
        input.includeArchived ? undefined : isNull(chatSessions.archivedAt),
        after
          ? sql`(${chatSessions.updatedAt}, ${chatSessions.id}) < (${after.at}::timestamptz, ${after.id}::uuid)`
          : undefined,
      ),
    )
    .orderBy(desc(chatSessions.updatedAt), desc(chatSessions.id))
    .limit(input.limit + 1);
  return toPage(
    rows.map((r) => ({ ...r.session, role: r.role, cursorAt: r.cursorAt })),
    input.limit,
  );
}

/** One session with the actor's role and what is running in it. */
export async function getSession(db: Executor, actor: Actor, sessionId: string) {
  const { session, role } = await requireSessionRole(db, actor, sessionId, "viewer", "read it");
  const open = await db
    .select({ id: chatMessages.id, status: chatMessages.status })
    .from(chatMessages)
    .where(and(eq(chatMessages.sessionId, session.id), inArray(chatMessages.status, ["pending", "claimed"])))
    .orderBy(chatMessages.createdAt, chatMessages.id);
  return {
    ...session,
    role,
    pendingMessageIds: open.filter((m) => m.status === "pending").map((m) => m.id),
    runningMessageId: open.find((m) => m.status === "claimed")?.id ?? null,
    devices: await devicesWithWorkspace(db, actor.organizationId, session.workspaceId),
  };
}

/** A device counts as online when its last heartbeat is this recent. */
export const DEVICE_ONLINE_WINDOW_SECONDS = 60;

/** The desktops that could run the session's turns (its workspace open), and whether each is online. */
async function devicesWithWorkspace(db: Executor, organizationId: string, workspaceId: string | null) {
  if (!workspaceId) return [];
  return db
    .select({
      id: devices.id,
      name: devices.name,
      ownerId: devices.ownerId,
      lastSeenAt: devices.lastSeenAt,
      online: sql<boolean>`${devices.lastSeenAt} > now() - ${DEVICE_ONLINE_WINDOW_SECONDS}::integer * interval '1 second'`,
    })
    .from(devices)
    .where(
      and(
        eq(devices.organizationId, organizationId),
        isNull(devices.revokedAt),
        sql`${workspaceId} = any(${devices.workspaceIds})`,
      ),
    )
    .orderBy(desc(devices.lastSeenAt));
}

export async function renameSession(db: Executor, actor: Actor, input: { sessionId: string; title: string }) {
  return db.transaction(async (tx) => {
    await requireSessionRole(tx, actor, input.sessionId, "owner", "rename it", { lock: true });
    const [session] = await tx
      .update(chatSessions)
      .set({ title: input.title })
      .where(eq(chatSessions.id, input.sessionId))
      .returning();
    return { ...(session as ChatSession), txid: await currentTxid(tx) };
  });
}

/**
 * Archives a session: it refuses new messages, its queued messages are
 * interrupted, and a running turn is asked to stop. Archiving twice is a no-op.
 */
export async function archiveSession(db: Executor, actor: Actor, sessionId: string) {
  return db.transaction(async (tx) => {
    const { session } = await requireSessionRole(tx, actor, sessionId, "owner", "archive it", { lock: true });
    if (session.archivedAt) return { ...session, txid: null };
    const [archived] = await tx
      .update(chatSessions)
      .set({ archivedAt: sql`now()` })
      .where(eq(chatSessions.id, sessionId))
      .returning();
    await tx
      .update(chatMessages)
      .set({ status: "interrupted", interruptRequestedAt: sql`now()`, interruptRequestedById: actor.userId })
      .where(and(eq(chatMessages.sessionId, sessionId), eq(chatMessages.status, "pending")));
    await tx
      .update(chatMessages)
      .set({ interruptRequestedAt: sql`now()`, interruptRequestedById: actor.userId })
      .where(
        and(
          eq(chatMessages.sessionId, sessionId),
          eq(chatMessages.status, "claimed"),
          isNull(chatMessages.interruptRequestedAt),
        ),
      );
    return { ...(archived as ChatSession), txid: await currentTxid(tx) };
  });
}
