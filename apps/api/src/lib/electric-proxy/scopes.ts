import type { Database } from "@superset/db/client";
import { chatParticipants } from "@superset/db/schema";
import { and, asc, eq } from "drizzle-orm";

/** The tables clients may sync, and the columns they never see. */
export const SYNCED_TABLES = {
  repositories: { hidden: [] },
  devices: { hidden: ["token_hash"] },
  chat_sessions: { hidden: [] },
  chat_messages: { hidden: [] },
  chat_participants: { hidden: [] },
  chat_approvals: { hidden: [] },
} as const satisfies Record<string, { hidden: readonly string[] }>;

export type SyncedTable = keyof typeof SYNCED_TABLES;

export const isSyncedTable = (name: string): name is SyncedTable => Object.hasOwn(SYNCED_TABLES, name);

/** Every column of `devices` a client may read (all but the credential hash). */
export const DEVICE_COLUMNS = [
  "id",
  "organization_id",
  "owner_id",
  "name",
  "platform",
  "agent_version",
  "workspace_ids",
  "last_seen_at",
  "revoked_at",
  "created_at",
] as const;

export interface Scope {
  /** Where clause with placeholders `$1..$n`, renumbered by the caller. */
  where: string;
  values: string[];
}

export interface Viewer {
  userId: string;
  organizationId: string;
}

/** Sessions of the organization the user takes part in, in a stable order. */
async function participatingSessions(db: Database, viewer: Viewer): Promise<string[]> {
  const rows = await db
    .select({ sessionId: chatParticipants.sessionId })
    .from(chatParticipants)
    .where(
      and(
        eq(chatParticipants.userId, viewer.userId),
        eq(chatParticipants.organizationId, viewer.organizationId),
      ),
    )
    .orderBy(asc(chatParticipants.sessionId));
  return rows.map((r) => r.sessionId);
}

/**
 * The server-side where clause of a table for a viewer: the active
 * organization, and for chat tables only the sessions the viewer takes part in.
 * Session ids are listed as parameters (the Shape API has no subqueries), so
 * joining or leaving a session changes the shape and its clients refetch.
 * `chat_participants` also shows the viewer's own rows (of the organization).
 */
export async function scopeFor(db: Database, table: SyncedTable, viewer: Viewer): Promise<Scope> {
  if (table === "repositories" || table === "devices") {
    return { where: "organization_id = $1", values: [viewer.organizationId] };
  }
  const sessions = await participatingSessions(db, viewer);
  const column = table === "chat_sessions" ? "id" : "session_id";
  if (table === "chat_participants") {
    // A user always sees their own participation rows, so a client following them learns at once
    // that it joined a session (whose id is not yet in the scope's list).
    if (sessions.length === 0)
      return {
        where: "organization_id = $1 AND user_id = $2",
        values: [viewer.organizationId, viewer.userId],
      };
    const list = sessions.map((_, i) => `$${i + 3}`).join(", ");
    return {
      where: `organization_id = $1 AND (user_id = $2 OR session_id IN (${list}))`,
      values: [viewer.organizationId, viewer.userId, ...sessions],
    };
  }
  if (sessions.length === 0)
    return { where: "organization_id = $1 AND false", values: [viewer.organizationId] };
  const list = sessions.map((_, i) => `$${i + 2}`).join(", ");
  return {
    where: `organization_id = $1 AND ${column} IN (${list})`,
    values: [viewer.organizationId, ...sessions],
  };
}
