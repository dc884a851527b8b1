import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ClaudeSessionManager } from "../claude/session-manager";
import type { ApiClient } from "./api-client";

/**
 * Which Claude Code conversation a turn continues. A chat session's
 * conversation lives in the transcript of the device that ran its last turn
 * (under that device's CLAUDE_CONFIG_DIR); the API stores its id as
 * `claude_session_id`. When the previous turn ran on another device, this
 * device can neither resume that transcript nor keep its own warm process
 * (it missed turns): it starts a new conversation and gives Claude the
 * session's earlier messages as context in the first prompt.
 */

/** How much history a new conversation is given. */
const HISTORY_MESSAGES = 30;
const HISTORY_MESSAGE_CHARS = 4_000;

export interface ConversationPlan {
  /** Resume this transcript when the manager starts the session afresh. */
  resume: string | null;
  /** The prompt to send (the message, or the message preceded by the session's history). */
  prompt: string;
  /** True when the previous conversation could not be continued here. */
  handedOver: boolean;
}

/** Claude Code keeps transcripts as `<config dir>/projects/<folder key>/<session id>.jsonl`. */
export function hasLocalTranscript(claudeEnv: Record<string, string>, claudeSessionId: string): boolean {
  const configDir = claudeEnv.CLAUDE_CONFIG_DIR ?? join(claudeEnv.HOME ?? homedir(), ".claude");
  const projects = join(configDir, "projects");
  if (!/^[0-9a-zA-Z-]{8,64}$/.test(claudeSessionId) || !existsSync(projects)) return false;
  return readdirSync(projects).some((dir) => existsSync(join(projects, dir, `${claudeSessionId}.jsonl`)));
}

export async function planConversation(input: {
  api: ApiClient;
  manager: ClaudeSessionManager;
  claudeEnv: Record<string, string>;
  sessionId: string;
  message: { id: string; content: string; createdAt: Date | string };
  /** The session's `claude_session_id` as the shape last showed it (used when the API cannot be asked). */
  shapeClaudeSessionId: string | null;
}): Promise<ConversationPlan> {
  const { api, manager, sessionId, message } = input;
  // The previous turn's host stores its conversation id before it records the answer, and this message
  // could only be claimed after that: the API's value is current, the shape's may lag.
  const stored = await api.chat.getSession
    .query({ sessionId })
    .then((s) => s.claudeSessionId ?? null)
    .catch(() => input.shapeClaudeSessionId);
  const live = manager.getSession(sessionId);
  if (live && live.claudeSessionId === stored)
    return { resume: stored, prompt: message.content, handedOver: false };
  // A warm process of an older conversation: another device answered since.
  if (live) await manager.closeSession(sessionId);
  if (!stored) return { resume: null, prompt: message.content, handedOver: false };
  if (hasLocalTranscript(input.claudeEnv, stored)) {
    return { resume: stored, prompt: message.content, handedOver: false };
  }
  return {
    resume: null,
    prompt: await withHistory(api, sessionId, message),
    handedOver: true,
  };
}

async function withHistory(
  api: ApiClient,
  sessionId: string,
  message: { id: string; content: string; createdAt: Date | string },
) {
  const before = new Date(message.createdAt).getTime();
  const page = await api.chat.getMessages
    .query({ sessionId, order: "desc", limit: HISTORY_MESSAGES + 1 })
    .catch(() => ({ items: [] as { id: string; role: string; content: string; createdAt: Date }[] }));
  const earlier = page.items
    .filter((m) => m.id !== message.id && m.content.trim() && new Date(m.createdAt).getTime() <= before)
    .slice(0, HISTORY_MESSAGES)
    .reverse();
  return historyPrompt(earlier, message.content);
}

/** The first prompt of a conversation that continues a chat begun elsewhere: the earlier messages, then the new one. */
export function historyPrompt(earlier: { role: string; content: string }[], content: string): string {
  if (earlier.length === 0) return content;
  const lines = earlier.map((m) => {
    const text =
      m.content.length > HISTORY_MESSAGE_CHARS
        ? `${m.content.slice(0, HISTORY_MESSAGE_CHARS)} [...]`
        : m.content;
    return `${m.role === "assistant" ? "Assistant" : "User"}: ${text}`;
  });
  return [
    "[Context: the earlier part of this chat ran on another computer. Its messages, oldest first:]",
    ...lines,
    "[End of the earlier messages. The new message follows.]",
    "",
    content,
  ].join("\n");
}
