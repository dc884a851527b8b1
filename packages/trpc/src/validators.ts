import { APPROVAL_STATUSES, PARTICIPANT_ROLES } from "@superset/db/schema";
import { z } from "zod";

/** Limits of what clients may send; the messages say what went wrong. */
export const LIMITS = {
  userMessageChars: 32_000,
  assistantMessageChars: 1_000_000,
  titleChars: 200,
  toolCallsBytes: 1_000_000,
  toolInputBytes: 256_000,
  pageSize: 200,
  workspaces: 100,
  approvalTimeoutMs: { min: 1_000, max: 60 * 60 * 1000 },
} as const;

export const id = (what: string) => z.uuid({ error: `${what} must be a UUID` });

export const title = z
  .string()
  .trim()
  .min(1, "Title cannot be empty")
  .max(LIMITS.titleChars, `Title is too long (at most ${LIMITS.titleChars} characters)`);

export const userContent = z
  .string()
  .max(LIMITS.userMessageChars, `Message is too long (at most ${LIMITS.userMessageChars} characters)`)
  .refine((s) => s.trim().length > 0, "Message cannot be empty");

export const assistantContent = z
  .string()
  .max(
    LIMITS.assistantMessageChars,
    `Answer is too long (at most ${LIMITS.assistantMessageChars} characters)`,
  );

const shortText = (what: string, max = 200) =>
  z
    .string()
    .trim()
    .min(1, `${what} cannot be empty`)
    .max(max, `${what} is too long (at most ${max} characters)`);

export const workspaceId = shortText("Workspace id", 500);
export const workspaceIds = z
  .array(workspaceId)
  .max(LIMITS.workspaces, `At most ${LIMITS.workspaces} open workspaces`);

/** Arbitrary JSON, bounded in size once serialized. */
export const boundedJson = (what: string, maxBytes: number) =>
  z.unknown().refine((value) => {
    try {
      return Buffer.byteLength(JSON.stringify(value) ?? "") <= maxBytes;
    } catch {
      return false;
    }
  }, `${what} must be JSON of at most ${maxBytes} bytes`);

export const sessionRole = z.enum(PARTICIPANT_ROLES, { error: "Role must be owner, editor or viewer" });
export const approvalStatus = z.enum(APPROVAL_STATUSES);

export const page = {
  cursor: z.string().max(500).optional(),
  limit: z.number().int().min(1).max(LIMITS.pageSize).default(50),
};

const tokenCount = z.number().int().min(0).max(100_000_000);

export const chatInput = {
  createSession: z.object({
    repositoryId: id("repositoryId").optional(),
    workspaceId: workspaceId.optional(),
    title: title.optional(),
    cwd: shortText("cwd", 4096).optional(),
  }),
  sessionId: z.object({ sessionId: id("sessionId") }),
  listSessions: z.object({
    repositoryId: id("repositoryId").optional(),
    includeArchived: z.boolean().default(false),
    ...page,
  }),
  updateSession: z.object({ sessionId: id("sessionId"), title }),
  sendMessage: z.object({ sessionId: id("sessionId"), content: userContent, id: id("id").optional() }),
  getMessages: z.object({
    sessionId: id("sessionId"),
    order: z.enum(["asc", "desc"]).default("asc"),
    ...page,
  }),
  saveAssistantMessage: z.object({
    messageId: id("messageId"),
    content: assistantContent,
    toolCalls: boundedJson("toolCalls", LIMITS.toolCallsBytes).optional(),
    inputTokens: tokenCount.optional(),
    outputTokens: tokenCount.optional(),
    costUsd: z.number().min(0).max(1_000_000).optional(),
  }),
  interrupt: z.object({ sessionId: id("sessionId"), messageId: id("messageId").optional() }),
  addParticipant: z
    .object({
      sessionId: id("sessionId"),
      userId: id("userId").optional(),
      email: z.email("email must be an email address").optional(),
      role: sessionRole.default("viewer"),
    })
    .refine(
      (v) => (v.userId === undefined) !== (v.email === undefined),
      "Give exactly one of userId and email",
    ),
  participant: z.object({ sessionId: id("sessionId"), userId: id("userId") }),
  setRole: z.object({ sessionId: id("sessionId"), userId: id("userId"), role: sessionRole }),
  listApprovals: z.object({ sessionId: id("sessionId"), status: approvalStatus.optional() }),
  answerApproval: z.object({
    approvalId: id("approvalId"),
    decision: z.enum(["allow", "deny"], { error: "decision must be allow or deny" }),
    reason: shortText("reason", 1000).optional(),
  }),
};

export const deviceInput = {
  register: z.object({
    name: shortText("Device name"),
    platform: shortText("platform", 50).optional(),
    agentVersion: shortText("agentVersion", 50).optional(),
    workspaceIds: workspaceIds.default([]),
  }),
  heartbeat: z.object({ workspaceIds, agentVersion: shortText("agentVersion", 50).optional() }),
  deviceId: z.object({ deviceId: id("deviceId") }),
  claimNext: z.object({ sessionId: id("sessionId").optional() }).default({}),
  messageId: z.object({ messageId: id("messageId") }),
  finishTurn: z.object({
    messageId: id("messageId"),
    status: z.enum(["interrupted", "failed"], { error: "status must be interrupted or failed" }),
    error: shortText("error", 4000).optional(),
  }),
  setClaudeSessionId: z.object({ sessionId: id("sessionId"), claudeSessionId: shortText("claudeSessionId") }),
  requestApproval: z.object({
    messageId: id("messageId"),
    toolUseId: shortText("toolUseId"),
    toolName: shortText("toolName"),
    toolInput: boundedJson("toolInput", LIMITS.toolInputBytes),
    timeoutMs: z
      .number()
      .int()
      .min(LIMITS.approvalTimeoutMs.min, `timeoutMs must be at least ${LIMITS.approvalTimeoutMs.min}`)
      .max(LIMITS.approvalTimeoutMs.max, `timeoutMs must be at most ${LIMITS.approvalTimeoutMs.max}`),
  }),
  approvalId: z.object({ approvalId: id("approvalId") }),
  sessionId: z.object({ sessionId: id("sessionId") }),
};
