import { createHash, randomBytes } from "node:crypto";
import type { Database } from "@superset/db/client";
import { chatMessages, chatSessions, type Device, devices } from "@superset/db/schema";
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { DEVICE_TOKEN_HEADER } from "../constants";
import { ChatError, notFound } from "../errors";
import { type Actor, currentTxid, type Executor } from "./db";

export { DEVICE_TOKEN_HEADER };

const TOKEN_PREFIX = "sdt_";

/** What a device procedure knows about its caller. */
export interface DeviceIdentity {
  id: string;
  organizationId: string;
  ownerId: string;
  name: string;
  workspaceIds: string[];
}

/** A device as clients may see it: never its credential hash. */
export type PublicDevice = Omit<Device, "tokenHash">;

export function toPublicDevice({ tokenHash: _, ...device }: Device): PublicDevice {
  return device;
}

export function hashDeviceToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export async function findDeviceByToken(db: Executor, token: string): Promise<DeviceIdentity | null> {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
  const [device] = await db
    .select({
      id: devices.id,
      organizationId: devices.organizationId,
      ownerId: devices.ownerId,
      name: devices.name,
      workspaceIds: devices.workspaceIds,
    })
    .from(devices)
    .where(and(eq(devices.tokenHash, hashDeviceToken(token)), isNull(devices.revokedAt)));
  return device ?? null;
}

/**
 * Registers a desktop for the signed-in user in their active organization.
 * The credential is returned once; only its SHA-256 is stored.
 */
export async function registerDevice(
  db: Database,
  actor: Actor,
  input: { name: string; platform?: string; agentVersion?: string; workspaceIds: string[] },
) {
  const deviceToken = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  return db.transaction(async (tx) => {
    const [device] = await tx
      .insert(devices)
      .values({
        organizationId: actor.organizationId,
        ownerId: actor.userId,
        name: input.name,
        platform: input.platform ?? null,
        agentVersion: input.agentVersion ?? null,
        workspaceIds: input.workspaceIds,
        tokenHash: hashDeviceToken(deviceToken),
      })
      .returning();
    if (!device) throw new Error("device insert returned nothing");
    return { deviceId: device.id, deviceToken, device: toPublicDevice(device), txid: await currentTxid(tx) };
  });
}

/** The device says it is alive and which workspaces it has open. */
export async function heartbeat(
  db: Database,
  device: DeviceIdentity,
  input: { workspaceIds: string[]; agentVersion?: string },
) {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(devices)
      .set({
        workspaceIds: input.workspaceIds,
        lastSeenAt: sql`now()`,
        ...(input.agentVersion ? { agentVersion: input.agentVersion } : {}),
      })
      .where(and(eq(devices.id, device.id), isNull(devices.revokedAt)))
      .returning();
    if (!row) throw new ChatError("UNAUTHORIZED", "Unknown or revoked device credential");
    return { ...toPublicDevice(row), txid: await currentTxid(tx) };
  });
}

/** Devices of the actor's organization (who could run a session's turns). */
export async function listDevices(db: Executor, actor: Actor) {
  const rows = await db
    .select()
    .from(devices)
    .where(and(eq(devices.organizationId, actor.organizationId), isNull(devices.revokedAt)))
    .orderBy(desc(devices.lastSeenAt));
  return rows.map(toPublicDevice);
}

/** Revokes a device credential: its owner or an organization owner/admin may. */
export async function revokeDevice(
  db: Database,
  actor: Actor & { memberRole: string | null },
  deviceId: string,
) {
  return db.transaction(async (tx) => {
    const [device] = await tx
      .select()
      .from(devices)
      .where(and(eq(devices.id, deviceId), eq(devices.organizationId, actor.organizationId)))
      .for("update");
    if (!device) throw notFound("Device");
    const isAdmin = actor.memberRole === "owner" || actor.memberRole === "admin";
    if (device.ownerId !== actor.userId && !isAdmin) {
      throw new ChatError("FORBIDDEN", "Only the device's owner or an organization admin can revoke it");
    }
    if (device.revokedAt) return { ...toPublicDevice(device), txid: null };
    const [revoked] = await tx
      .update(devices)
      .set({ revokedAt: sql`now()` })
      .where(eq(devices.id, deviceId))
      .returning();
    return { ...toPublicDevice(revoked as Device), txid: await currentTxid(tx) };
  });
}

/** Records Claude Code's session id (for resume) from the device that runs the session's turns. */
export async function setClaudeSessionId(
  db: Database,
  device: DeviceIdentity,
  input: { sessionId: string; claudeSessionId: string },
) {
  return db.transaction(async (tx) => {
    const [session] = await tx
      .select({ id: chatSessions.id })
      .from(chatSessions)
      .where(
        and(eq(chatSessions.id, input.sessionId), eq(chatSessions.organizationId, device.organizationId)),
      )
      .for("update");
    if (!session) throw notFound("Chat session");
    const [claim] = await tx
      .select({ id: chatMessages.id })
      .from(chatMessages)
      .where(and(eq(chatMessages.sessionId, session.id), eq(chatMessages.claimedByDeviceId, device.id)))
      .limit(1);
    if (!claim) {
      throw new ChatError("FORBIDDEN", "Only a device that has claimed a message of this session can set it");
    }
    const [updated] = await tx
      .update(chatSessions)
      .set({ claudeSessionId: input.claudeSessionId })
      .where(eq(chatSessions.id, session.id))
      .returning();
    return { ...(updated as typeof chatSessions.$inferSelect), txid: await currentTxid(tx) };
  });
}
