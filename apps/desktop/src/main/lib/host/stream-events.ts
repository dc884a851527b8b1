import type { ClaudeSessionEvent, TurnSummary } from "../claude/events";

/**
 * The events of a session's durable stream (docs/stream-events.md is the
 * contract). The Claude session manager's events pass through unchanged,
 * except that `seq` and `at` are stamped by the host's writer and
 * `turn_started` carries the user message; the host adds its own below.
 */

/** The user message a turn answers, as stored by the API. */
export interface TurnMessage {
  id: string;
  content: string;
  createdById: string;
  createdAt: string;
}

type ManagerEvent = Exclude<ClaudeSessionEvent, { type: "turn_started" }>;

interface Base {
  sessionId: string;
  turnId: string;
  seq: number;
  at: number;
}

export type HostStreamEvent =
  | (Base & {
      type: "turn_started";
      prompt: string;
      coldStart: boolean;
      message: TurnMessage;
      deviceId: string;
      /** 1 for the first claim of the message; more when a host took over after a lease expired. */
      attempt: number;
    })
  | (Base & {
      type: "approval_opened";
      /** The API's approval id: answer it with `chat.answerApproval`. */
      approvalId: string;
      /** The manager's id of the same request (matches approval_requested / approval_resolved). */
      localApprovalId: string;
      toolUseId: string;
      toolName: string;
      input: Record<string, unknown>;
      expiresAt: number;
    })
  | (Base & {
      type: "turn_saved";
      /** How the API recorded the user message: done (answered), interrupted or failed. */
      messageStatus: "done" | "interrupted" | "failed";
      /** The stored assistant message (present when messageStatus is done). */
      assistantMessageId: string | null;
    } & WrittenByApi)
  | (Base & { type: "turn_error" } & TurnSummary & {
        status: "error";
        reason: string;
        /** Set on the error event a host writes for an earlier attempt whose host stopped mid-turn. */
        abandoned?: { attempt: number };
      } & WrittenByApi);

/**
 * Present on the end events the API's lease sweep writes for a turn that ended by lease expiry
 * (failed or interrupted) while no desktop held it: see docs/stream-events.md.
 */
interface WrittenByApi {
  leaseExpired?: true;
  writtenBy?: "api";
}

export type StreamEvent = ManagerEvent | HostStreamEvent;

type Unsequenced<E> = E extends unknown ? Omit<E, "seq" | "at"> & { at?: number } : never;
export type UnsequencedStreamEvent = Unsequenced<StreamEvent>;

export const TURN_END_TYPES = ["turn_done", "turn_error", "turn_interrupted"] as const;
