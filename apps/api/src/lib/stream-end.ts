import type { Database } from "@superset/db/client";
import { chatMessages } from "@superset/db/schema";
import { mintStreamToken } from "@superset/stream-tokens";
import { and, asc, eq, isNotNull } from "drizzle-orm";
import type { Logger } from "./logger";

/**
 * Writes the end of turns the lease sweep ended (failed after the last claim,
 * or interrupted) on the session's durable stream: nobody holds append rights
 * for them any more, so the API appends `turn_error` / `turn_interrupted` and
 * `turn_saved` itself (docs/stream-events.md), then clears the row's mark.
 * One idempotent producer per message (epoch 0, seq 0): a retry after a crash
 * between the append and the clear is stored once.
 */
export interface StreamEndOptions {
  db: Database;
  streamUrl: string;
  streamAuthSecret: string;
  logger: Logger;
  /** Rows handled per sweep. */
  batchSize?: number;
  /** Per-append timeout. */
  timeoutMs?: number;
}

export interface StreamEndResult {
  written: number;
  /** The stream did not exist (the host never created it): nothing to end. */
  missing: number;
  /** Permanently refused (4xx other than 404): logged and dropped. */
  rejected: number;
  /** Unreachable or 5xx: the mark stays for the next sweep. */
  retrying: number;
}

type Outcome = keyof StreamEndResult;

const ZERO_SUMMARY = {
  text: "",
  toolCalls: [],
  usage: { inputTokens: 0, outputTokens: 0 },
  costUsd: 0,
  totalCostUsd: 0,
  claudeSessionId: null,
  durationMs: 0,
};

interface PendingEnd {
  id: string;
  sessionId: string;
  organizationId: string;
  createdById: string;
  status: string;
  error: string | null;
}

/** The end events of one turn, in the format of docs/stream-events.md. */
export function streamEndEvents(row: PendingEnd, at: number) {
  const base = { sessionId: row.sessionId, turnId: row.id, at, leaseExpired: true, writtenBy: "api" };
  const interrupted = row.status === "interrupted";
  const end = interrupted
    ? {
        ...base,
        ...ZERO_SUMMARY,
        type: "turn_interrupted",
        seq: 0,
        status: "interrupted",
        reason: "Interrupted; the desktop running this turn stopped answering before it ended",
      }
    : {
        ...base,
        ...ZERO_SUMMARY,
        type: "turn_error",
        seq: 0,
        status: "error",
        reason: row.error ?? "No desktop finished this turn: its lease expired",
      };
  const saved = {
    ...base,
    type: "turn_saved",
    seq: 1,
    messageStatus: interrupted ? "interrupted" : "failed",
    assistantMessageId: null,
  };
  return [end, saved];
}

async function append(options: StreamEndOptions, row: PendingEnd): Promise<Outcome> {
  const { token } = await mintStreamToken(
    {
      userId: row.createdById,
      organizationId: row.organizationId,
      sessionId: row.sessionId,
      rights: ["append"],
    },
    { secret: options.streamAuthSecret, ttlSeconds: 60 },
  );
  const url = `${options.streamUrl.replace(/\/+$/, "")}/streams/${encodeURIComponent(row.sessionId)}`;
  const log = { messageId: row.id, sessionId: row.sessionId };
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "producer-id": `api-sweeper-${row.id}`,
        "producer-epoch": "0",
        "producer-seq": "0",
      },
      body: JSON.stringify(streamEndEvents(row, Date.now())),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
    });
    await response.body?.cancel();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    options.logger.warn({ ...log, reason }, "stream server unreachable; turn end retried next sweep");
    return "retrying";
  }
  if (response.ok) return "written";
  if (response.status === 404) {
    options.logger.info(log, "no stream for this session; nothing to end");
    return "missing";
  }
  if (response.status >= 500) {
    options.logger.warn(
      { ...log, status: response.status },
      "stream server failed; turn end retried next sweep",
    );
    return "retrying";
  }
  options.logger.error({ ...log, status: response.status }, "stream server refused the turn end; dropped");
  return "rejected";
}

/** Appends the end events of marked turns (a limited batch, rows locked with SKIP LOCKED) and clears the marks. */
export async function writeStreamEnds(options: StreamEndOptions): Promise<StreamEndResult> {
  const result: StreamEndResult = { written: 0, missing: 0, rejected: 0, retrying: 0 };
  await options.db.transaction(async (tx) => {
    const rows = await tx
      .select({
        id: chatMessages.id,
        sessionId: chatMessages.sessionId,
        organizationId: chatMessages.organizationId,
        createdById: chatMessages.createdById,
        status: chatMessages.status,
        error: chatMessages.error,
      })
      .from(chatMessages)
      .where(isNotNull(chatMessages.streamEndPendingAt))
      .orderBy(asc(chatMessages.streamEndPendingAt), asc(chatMessages.id))
      .limit(options.batchSize ?? 20)
      .for("update", { skipLocked: true });
    for (const row of rows) {
      const outcome = await append(options, row);
      result[outcome] += 1;
      // The stream server is down or failing: keep this mark and the rest for the next sweep.
      if (outcome === "retrying") break;
      await tx
        .update(chatMessages)
        .set({ streamEndPendingAt: null })
        .where(and(eq(chatMessages.id, row.id), isNotNull(chatMessages.streamEndPendingAt)));
    }
  });
  return result;
}
