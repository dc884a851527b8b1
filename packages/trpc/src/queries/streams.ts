import { chatMessages, chatParticipants, chatSessions } from "@superset/db/schema";
import { mintStreamToken, type StreamRight } from "@superset/stream-tokens";
import { and, eq, gt, sql } from "drizzle-orm";
import { ChatError, notFound } from "../errors";
import { requireSessionRole } from "./access";
import type { Actor, Executor } from "./db";
import type { DeviceIdentity } from "./devices";

/** Path of a session's durable stream on the stream server (the token's `sid` must match it). */
export const streamPath = (sessionId: string) => `/streams/${sessionId}`;

interface MintOptions {
  secret: string;
  ttlSeconds: number;
  streamUrl: string;
}

async function mint(
  claims: { userId: string; organizationId: string; sessionId: string; rights: StreamRight[]; name: string },
  deviceId: string | undefined,
  options: MintOptions,
) {
  const { token, expiresAt } = await mintStreamToken(
    { ...claims, deviceId },
    { secret: options.secret, ttlSeconds: options.ttlSeconds },
  );
  const path = streamPath(claims.sessionId);
  return {
    token,
    expiresAt,
    rights: claims.rights,
    streamUrl: options.streamUrl,
    path,
    url: new URL(path, options.streamUrl).toString(),
  };
}

/** Participants read the session's stream and publish presence; they never append. */
export async function participantStreamToken(
  db: Executor,
  actor: Actor & { name: string },
  sessionId: string,
  options: MintOptions,
) {
  await requireSessionRole(db, actor, sessionId, "viewer", "follow its stream");
  return mint(
    {
      userId: actor.userId,
      organizationId: actor.organizationId,
      sessionId,
      rights: ["read", "presence"],
      name: actor.name,
    },
    undefined,
    options,
  );
}

/**
 * A device may append only while it holds a live claim on a message of the
 * session; otherwise it may read if its owner takes part in the session.
 */
export async function deviceStreamToken(
  db: Executor,
  device: DeviceIdentity,
  sessionId: string,
  options: MintOptions,
) {
  const [session] = await db
    .select({ id: chatSessions.id })
    .from(chatSessions)
    .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.organizationId, device.organizationId)));
  if (!session) throw notFound("Chat session");
  const [claim] = await db
    .select({ id: chatMessages.id })
    .from(chatMessages)
    .where(
      and(
        eq(chatMessages.sessionId, sessionId),
        eq(chatMessages.claimedByDeviceId, device.id),
        eq(chatMessages.status, "claimed"),
        gt(chatMessages.leaseExpiresAt, sql`now()`),
      ),
    )
    .limit(1);
  let rights: StreamRight[] = ["read", "presence", "append"];
  if (!claim) {
    const [participant] = await db
      .select({ id: chatParticipants.id })
      .from(chatParticipants)
      .where(and(eq(chatParticipants.sessionId, sessionId), eq(chatParticipants.userId, device.ownerId)));
    if (!participant) {
      throw new ChatError(
        "FORBIDDEN",
        "This device holds no claim in this session and its owner does not take part in it",
      );
    }
    rights = ["read", "presence"];
  }
  return mint(
    { userId: device.ownerId, organizationId: device.organizationId, sessionId, rights, name: device.name },
    device.id,
    options,
  );
}
