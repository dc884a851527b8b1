import { type ChatParticipant, type ChatSession, chatParticipants, chatSessions } from "@superset/db/schema";
import { and, eq } from "drizzle-orm";
import { ChatError, notFound } from "../errors";
import type { Actor, Executor } from "./db";

export type SessionRole = ChatParticipant["role"] & ("owner" | "editor" | "viewer");

const ROLE_RANK: Record<string, number> = { viewer: 1, editor: 2, owner: 3 };

const REQUIRED: Record<SessionRole, string> = {
  viewer: "a participant",
  editor: "an editor or owner",
  owner: "an owner",
};

/**
 * The session, if the actor's organization owns it and the actor takes part
 * in it with at least `minRole`. A session of another organization, or one the
 * actor does not take part in, is "not found": its existence is not revealed.
 * `lock` takes a row lock on the session (for changes that must serialize).
 */
export async function requireSessionRole(
  ex: Executor,
  actor: Actor,
  sessionId: string,
  minRole: SessionRole,
  action: string,
  options: { lock?: boolean } = {},
): Promise<{ session: ChatSession; role: SessionRole }> {
  const query = ex
    .select({ session: chatSessions, role: chatParticipants.role })
    .from(chatSessions)
    .innerJoin(
      chatParticipants,
      and(eq(chatParticipants.sessionId, chatSessions.id), eq(chatParticipants.userId, actor.userId)),
    )
    .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.organizationId, actor.organizationId)))
    .limit(1);
  const [row] = options.lock ? await query.for("update", { of: chatSessions }) : await query;
  if (!row) throw notFound("Chat session");
  const role = row.role as SessionRole;
  if ((ROLE_RANK[role] ?? 0) < (ROLE_RANK[minRole] ?? 0)) {
    throw new ChatError(
      "FORBIDDEN",
      `Only ${REQUIRED[minRole]} of this session can ${action} (your role: ${role})`,
    );
  }
  return { session: row.session, role };
}

export function requireNotArchived(session: ChatSession, action: string): void {
  if (session.archivedAt) {
    throw new ChatError("PRECONDITION_FAILED", `This session is archived: it cannot ${action}`);
  }
}
