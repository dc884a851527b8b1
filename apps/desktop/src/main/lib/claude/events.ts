import type { SDKPartialAssistantMessage } from "@anthropic-ai/claude-agent-sdk";

/**
 * The per-session event stream of the Claude session manager.
 *
 * Every event is plain JSON (it is forwarded as is to the renderer over IPC and, in issue #7, appended to the
 * session's durable stream). Every event carries the session id, the turn id the caller gave to `sendMessage`
 * (the host passes the user message id) and `seq`, a per-session counter that grows by one per event.
 *
 * One turn emits, in order:
 *   turn_started → (stream_event | assistant_message | tool_result | approval_requested | approval_resolved)*
 *   → exactly one of turn_done | turn_error | turn_interrupted.
 */

/** One Anthropic Messages API streaming event exactly as the SDK forwarded it. */
export type AnthropicStreamEvent = SDKPartialAssistantMessage["event"];

export type TurnStatus = "done" | "error" | "interrupted";

export interface TurnUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface ToolCallRecord {
  id: string;
  name: string;
  input: unknown;
  /** The tool result as sent back to the model (text), absent when the turn ended before the tool ran. */
  result?: string;
  isError?: boolean;
}

/** Everything the host needs to save the assistant message of a finished turn. */
export interface TurnSummary {
  status: TurnStatus;
  /** Why the turn ended as error or interrupted; absent when done. */
  reason?: string;
  /** The assistant's text for the whole turn (text blocks joined in order). */
  text: string;
  toolCalls: ToolCallRecord[];
  usage: TurnUsage;
  /** Estimated cost of this turn in USD (difference of the SDK's running total). */
  costUsd: number;
  /** The SDK's running total for the session as it reported it. */
  totalCostUsd: number;
  /** Claude Code's own session id: store it to resume after a restart. */
  claudeSessionId: string | null;
  durationMs: number;
}

interface EventBase {
  sessionId: string;
  turnId: string;
  seq: number;
  /** Milliseconds since the epoch when the manager emitted the event. */
  at: number;
}

export type ClaudeSessionEvent =
  | (EventBase & { type: "turn_started"; prompt: string; coldStart: boolean })
  | (EventBase & {
      type: "stream_event";
      event: AnthropicStreamEvent;
      parentToolUseId: string | null;
    })
  | (EventBase & {
      type: "assistant_message";
      messageId: string;
      content: unknown[];
      parentToolUseId: string | null;
    })
  | (EventBase & {
      type: "tool_result";
      toolUseId: string;
      content: string;
      isError: boolean;
      parentToolUseId: string | null;
    })
  | (EventBase & {
      type: "approval_requested";
      approvalId: string;
      toolName: string;
      input: Record<string, unknown>;
      toolUseId: string | null;
      expiresAt: number;
    })
  | (EventBase & {
      type: "approval_resolved";
      approvalId: string;
      behavior: "allow" | "deny";
      /** Who or what decided: an answer, the timeout, or the turn ending first. */
      decidedBy: "answer" | "timeout" | "turn_ended";
      message?: string;
    })
  | (EventBase & { type: "turn_done" } & TurnSummary & { status: "done" })
  | (EventBase & { type: "turn_error" } & TurnSummary & { status: "error"; reason: string })
  | (EventBase & { type: "turn_interrupted" } & TurnSummary & { status: "interrupted"; reason: string });

export type ClaudeSessionEventType = ClaudeSessionEvent["type"];

export type TurnEndEvent = Extract<
  ClaudeSessionEvent,
  { type: "turn_done" | "turn_error" | "turn_interrupted" }
>;

export function isTurnEnd(event: ClaudeSessionEvent): event is TurnEndEvent {
  return event.type === "turn_done" || event.type === "turn_error" || event.type === "turn_interrupted";
}

/** An event before the manager stamps it with sessionId, seq and at. */
export type UnstampedEvent = ClaudeSessionEvent extends infer E
  ? E extends ClaudeSessionEvent
    ? Omit<E, "sessionId" | "seq" | "at">
    : never
  : never;
