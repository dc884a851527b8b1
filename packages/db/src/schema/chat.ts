import { sql } from "drizzle-orm";
import {
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { members, organizations, users } from "./auth";
import { devices } from "./devices";
import { repositories } from "./repositories";

export const PARTICIPANT_ROLES = ["owner", "editor", "viewer"] as const;
export type ParticipantRole = (typeof PARTICIPANT_ROLES)[number];

export const MESSAGE_ROLES = ["user", "assistant"] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

/**
 * Processing state of a user message (assistant messages are always `done`):
 * pending → claimed (by one device, until `lease_expires_at`) → done | failed | interrupted.
 * An expired claim goes back to pending until `claim_count` reaches its bound.
 */
export const MESSAGE_STATUSES = ["pending", "claimed", "done", "failed", "interrupted"] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export const APPROVAL_STATUSES = ["pending", "allowed", "denied", "expired"] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

const inList = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(", "));

export const chatSessions = pgTable(
  "chat_sessions",
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    repositoryId: uuid("repository_id"),
    workspaceId: text("workspace_id"),
    title: text().notNull(),
    /** Claude Code's session id, for `resume` after a restart. */
    claudeSessionId: text("claude_session_id"),
    cwd: text(),
    createdById: uuid("created_by_id")
      .notNull()
      .references(() => users.id, { onDelete: "restrict" }),
    archivedAt: timestamp("archived_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true })
      .notNull()
      .defaultNow()
      .$onUpdate(() => new Date()),
  },
  (t) => [
    unique("chat_sessions_id_organization_unique").on(t.id, t.organizationId),
    // A session's repository belongs to the session's organization.
    foreignKey({
      name: "chat_sessions_repository_fk",
      columns: [t.repositoryId, t.organizationId],
      foreignColumns: [repositories.id, repositories.organizationId],
    }).onDelete("set null"),
    index("chat_sessions_organization_updated_idx").on(t.organizationId, t.updatedAt.desc()),
    index("chat_sessions_workspace_idx").on(t.workspaceId),
    check("chat_sessions_title_length", sql`char_length(${t.title}) between 1 and 200`),
  ],
);
export type ChatSession = typeof chatSessions.$inferSelect;

export const chatMessages = pgTable(
  "chat_messages",
  {
    id: uuid().primaryKey().defaultRandom(),
    sessionId: uuid("session_id").notNull(),
    organizationId: uuid("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    role: text().notNull(),
    content: text().notNull(),
    toolCalls: jsonb("tool_calls"),
    inputTokens: integer("input_tokens"),
    outputTokens: integer("output_tokens"),
    costUsd: numeric("cost_usd", { precision: 12, scale: 6 }),
    createdById: uuid("created_by_id")
      .notNull()
      .references(() => users.id, { onDelete: "restrict" }),
    /** For an assistant message: the user message it answers (one answer per prompt). */
    replyToId: uuid("reply_to_id"),
    status: text().notNull().default("pending"),
    claimedByDeviceId: uuid("claimed_by_device_id").references(() => devices.id, {
      onDelete: "set null",
    }),
    leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true }),
    claimCount: integer("claim_count").notNull().default(0),
    error: text(),
    interruptRequestedAt: timestamp("interrupt_requested_at", { withTimezone: true }),
    interruptRequestedById: uuid("interrupt_requested_by_id").references(() => users.id, {
      onDelete: "set null",
    }),
    completedAt: timestamp("completed_at", { withTimezone: true }),
    /**
     * Set when the lease sweep ended the turn (failed or interrupted) with nobody
     * left to write its end on the durable stream; the API's sweeper appends the
     * end events, then clears it (an outbox of one row per turn).
     */
    streamEndPendingAt: timestamp("stream_end_pending_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // A message belongs to a session of its own organization.
    foreignKey({
      name: "chat_messages_session_fk",
      columns: [t.sessionId, t.organizationId],
      foreignColumns: [chatSessions.id, chatSessions.organizationId],
    }).onDelete("cascade"),
    foreignKey({
      name: "chat_messages_reply_to_fk",
      columns: [t.replyToId],
      foreignColumns: [t.id],
    }).onDelete("cascade"),
    uniqueIndex("chat_messages_reply_to_unique").on(t.replyToId),
    index("chat_messages_session_created_idx").on(t.sessionId, t.createdAt),
    // The shapes desktops subscribe to: open user messages per organization.
    index("chat_messages_open_idx")
      .on(t.organizationId, t.status, t.createdAt)
      .where(sql`${t.role} = 'user' and ${t.status} in ('pending', 'claimed')`),
    // The sweeper's outbox of turn ends still to write on the stream.
    index("chat_messages_stream_end_pending_idx")
      .on(t.streamEndPendingAt)
      .where(sql`${t.streamEndPendingAt} is not null`),
    check("chat_messages_role_check", sql`${t.role} in (${inList(MESSAGE_ROLES)})`),
    check("chat_messages_status_check", sql`${t.status} in (${inList(MESSAGE_STATUSES)})`),
    check(
      "chat_messages_assistant_done_check",
      sql`${t.role} <> 'assistant' or (${t.status} = 'done' and ${t.replyToId} is not null)`,
    ),
    check(
      "chat_messages_claim_check",
      sql`${t.status} <> 'claimed' or (${t.claimedByDeviceId} is not null and ${t.leaseExpiresAt} is not null)`,
    ),
    check("chat_messages_failed_has_error", sql`${t.status} <> 'failed' or ${t.error} is not null`),
    check(
      "chat_messages_tokens_check",
      sql`coalesce(${t.inputTokens}, 0) >= 0 and coalesce(${t.outputTokens}, 0) >= 0 and ${t.claimCount} >= 0`,
    ),
  ],
);
export type ChatMessage = typeof chatMessages.$inferSelect;

export const chatParticipants = pgTable(
  "chat_participants",
  {
    id: uuid().primaryKey().defaultRandom(),
    sessionId: uuid("session_id").notNull(),
    organizationId: uuid("organization_id").notNull(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text().notNull().default("viewer"),
    joinedAt: timestamp("joined_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique("chat_participants_session_user_unique").on(t.sessionId, t.userId),
    foreignKey({
      name: "chat_participants_session_fk",
      columns: [t.sessionId, t.organizationId],
      foreignColumns: [chatSessions.id, chatSessions.organizationId],
    }).onDelete("cascade"),
    // Only members of the session's organization can take part; leaving it removes them.
    foreignKey({
      name: "chat_participants_membership_fk",
      columns: [t.organizationId, t.userId],
      foreignColumns: [members.organizationId, members.userId],
    }).onDelete("cascade"),
    index("chat_participants_user_idx").on(t.userId),
    check("chat_participants_role_check", sql`${t.role} in (${inList(PARTICIPANT_ROLES)})`),
  ],
);
export type ChatParticipant = typeof chatParticipants.$inferSelect;

/**
 * A tool-permission request from the desktop running a turn. Any editor may
 * answer; the first answer wins (`status` leaves `pending` once).
 */
export const chatApprovals = pgTable(
  "chat_approvals",
  {
    id: uuid().primaryKey().defaultRandom(),
    sessionId: uuid("session_id").notNull(),
    organizationId: uuid("organization_id").notNull(),
    messageId: uuid("message_id")
      .notNull()
      .references(() => chatMessages.id, { onDelete: "cascade" }),
    deviceId: uuid("device_id").references(() => devices.id, { onDelete: "set null" }),
    toolUseId: text("tool_use_id").notNull(),
    toolName: text("tool_name").notNull(),
    toolInput: jsonb("tool_input").notNull(),
    status: text().notNull().default("pending"),
    decidedById: uuid("decided_by_id").references(() => users.id, { onDelete: "set null" }),
    decidedAt: timestamp("decided_at", { withTimezone: true }),
    reason: text(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({
      name: "chat_approvals_session_fk",
      columns: [t.sessionId, t.organizationId],
      foreignColumns: [chatSessions.id, chatSessions.organizationId],
    }).onDelete("cascade"),
    unique("chat_approvals_message_tool_use_unique").on(t.messageId, t.toolUseId),
    index("chat_approvals_session_idx").on(t.sessionId, t.createdAt),
    check("chat_approvals_status_check", sql`${t.status} in (${inList(APPROVAL_STATUSES)})`),
    check(
      "chat_approvals_decision_check",
      sql`(${t.status} in ('allowed', 'denied')) = (${t.decidedAt} is not null)`,
    ),
  ],
);
export type ChatApproval = typeof chatApprovals.$inferSelect;

/** Tables that sync through logical replication; each has REPLICA IDENTITY FULL. */
export const REPLICATED_TABLES = [
  "chat_sessions",
  "chat_messages",
  "chat_participants",
  "chat_approvals",
  "devices",
  "repositories",
] as const;
