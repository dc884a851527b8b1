import { sql } from "drizzle-orm";
import { check, foreignKey, index, pgTable, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";
import { members, organizations, users } from "./auth";

/**
 * A desktop host that can run Claude for its owner. Clients read it (through
 * the Electric proxy, without `token_hash`) to know whether any online desktop
 * has a session's workspace open.
 */
export const devices = pgTable(
  "devices",
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    ownerId: uuid("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text().notNull(),
    platform: text(),
    agentVersion: text("agent_version"),
    /** Workspace ids this device has open right now (sent with each heartbeat). */
    workspaceIds: text("workspace_ids").array().notNull().default(sql`'{}'::text[]`),
    /** SHA-256 of the device credential; the credential itself is never stored. */
    tokenHash: text("token_hash").notNull().unique(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique("devices_id_organization_unique").on(t.id, t.organizationId),
    index("devices_organization_id_idx").on(t.organizationId),
    index("devices_workspace_ids_idx").using("gin", t.workspaceIds),
    // The owner must be a member of the device's organization; leaving it removes the device.
    foreignKey({
      name: "devices_owner_membership_fk",
      columns: [t.organizationId, t.ownerId],
      foreignColumns: [members.organizationId, members.userId],
    }).onDelete("cascade"),
    check("devices_name_length", sql`char_length(${t.name}) between 1 and 200`),
  ],
);
export type Device = typeof devices.$inferSelect;
