import type { Logger } from "pino";
import type { ClaudeSessionEvent, TurnEndEvent } from "../claude/events";
import type { ClaudeSessionManager } from "../claude/session-manager";
import { type ApiClient, apiErrorCode } from "./api-client";
import { planConversation } from "./conversation";
import { SessionStreamWriter } from "./stream-writer";

/** A user message as the API returns it from claim / claimNext. */
export interface ClaimedMessage {
  id: string;
  sessionId: string;
  content: string;
  createdById: string;
  createdAt: Date | string;
  claimCount: number;
  interruptRequestedAt: Date | string | null;
}

export interface TurnProgress {
  sessionId: string;
  turnId: string;
  phase: "started" | "streaming" | "finished";
  outputTokens: number;
  elapsedMs: number;
  /** Time since the first token (0 before it): the rate's denominator, so Claude Code's start-up is left out. */
  streamingMs: number;
  status?: string;
}

export interface RunnerContext {
  api: ApiClient;
  manager: ClaudeSessionManager;
  /** The environment of Claude Code processes (where transcripts live). */
  claudeEnv: Record<string, string>;
  deviceId: string;
  leaseMs: number;
  streamUrl?: string;
  lingerMs?: number;
  logger: Logger;
  onProgress?: (progress: TurnProgress) => void;
}

export interface SessionPlace {
  cwd: string;
  claudeSessionId: string | null;
}

/**
 * Runs one session's messages, one turn at a time in the order they were
 * sent: claim (only the winner runs), keep the lease while the turn runs,
 * stream every event to the session's durable stream, then record the
 * outcome once (saveAssistantMessage, or finishTurn).
 */
export class SessionRunner {
  private readonly queue = new Map<string, { createdAt: string; claimed?: ClaimedMessage }>();
  private running: Promise<void> | undefined;
  private current: string | undefined;
  private writer: SessionStreamWriter | undefined;
  private stopped = false;

  constructor(
    readonly sessionId: string,
    private readonly place: () => SessionPlace | undefined,
    private readonly ctx: RunnerContext,
  ) {}

  get busy(): boolean {
    return this.running !== undefined;
  }

  get currentTurnId(): string | undefined {
    return this.current;
  }

  /** Queues a message seen pending (or already claimed by this device through claimNext). */
  enqueue(messageId: string, createdAt: string, claimed?: ClaimedMessage): void {
    if (this.stopped || messageId === this.current) return;
    const existing = this.queue.get(messageId);
    this.queue.set(messageId, { createdAt, claimed: claimed ?? existing?.claimed });
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  interrupt(messageId: string): void {
    if (this.current === messageId) this.ctx.manager.interrupt(this.sessionId, messageId);
  }

  /** Appends a host event to the session stream (approval bookkeeping). */
  appendEvent(event: Parameters<SessionStreamWriter["append"]>[0]): void {
    this.writer?.append(event);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.clear();
    if (this.current) this.ctx.manager.interrupt(this.sessionId, this.current);
    await this.running;
    await this.writer?.close();
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.queue.size > 0) {
      const [messageId, entry] = [...this.queue.entries()].sort((a, b) =>
        a[1].createdAt < b[1].createdAt ? -1 : a[1].createdAt > b[1].createdAt ? 1 : a[0] < b[0] ? -1 : 1,
      )[0] as [string, { createdAt: string; claimed?: ClaimedMessage }];
      this.queue.delete(messageId);
      const message = entry.claimed ?? (await this.claim(messageId));
      if (!message) continue;
      this.current = message.id;
      try {
        await this.runTurn(message);
      } catch (error) {
        this.ctx.logger.error(
          { sessionId: this.sessionId, turnId: message.id, err: String(error) },
          "turn failed",
        );
      } finally {
        this.current = undefined;
      }
    }
  }

  private async claim(messageId: string): Promise<ClaimedMessage | null> {
    try {
      return (await this.ctx.api.device.claim.mutate({ messageId })) as ClaimedMessage;
    } catch (error) {
      const code = apiErrorCode(error);
      // Another host won, an earlier message still runs, or the message is no longer pending: not ours now.
      if (code === "CONFLICT" || code === "PRECONDITION_FAILED" || code === "NOT_FOUND") {
        this.ctx.logger.debug({ messageId, code }, "claim refused");
        return null;
      }
      throw error;
    }
  }

  private async openWriter(): Promise<SessionStreamWriter> {
    if (!this.writer) {
      this.writer = new SessionStreamWriter({
        sessionId: this.sessionId,
        producerId: `host-${this.ctx.deviceId}-${this.sessionId}`,
        grant: () => this.ctx.api.device.getStreamToken.query({ sessionId: this.sessionId }),
        streamUrl: this.ctx.streamUrl,
        lingerMs: this.ctx.lingerMs,
        logger: this.ctx.logger,
      });
    }
    await this.writer.open();
    return this.writer;
  }

  private async runTurn(message: ClaimedMessage): Promise<void> {
    const { api, manager, logger } = this.ctx;
    const turnId = message.id;
    const started = performance.now();
    let lost = false;
    let interruptRequested = Boolean(message.interruptRequestedAt);

    const lease = setInterval(
      () => {
        api.device.renewLease
          .mutate({ messageId: turnId })
          .then((renewed) => {
            if (renewed.interruptRequestedAt && !interruptRequested) {
              interruptRequested = true;
              manager.interrupt(this.sessionId, turnId);
            }
          })
          .catch((error) => {
            if (apiErrorCode(error) === "CONFLICT") {
              lost = true;
              logger.warn({ sessionId: this.sessionId, turnId }, "lost the claim: stopping the turn");
              manager.interrupt(this.sessionId, turnId);
            } else logger.warn({ turnId, err: String(error) }, "lease renewal failed: will retry");
          });
      },
      Math.max(200, Math.floor(this.ctx.leaseMs / 3)),
    );

    try {
      const place = this.place();
      if (!place) {
        await api.device.finishTurn.mutate({
          messageId: turnId,
          status: "failed",
          error: "This device does not know the session's workspace folder",
        });
        return;
      }
      const writer = await this.openWriter();
      if (message.claimCount > 1) {
        writer.append({
          type: "turn_error",
          sessionId: this.sessionId,
          turnId,
          status: "error",
          reason: "The host running this turn stopped before finishing it; another attempt follows",
          abandoned: { attempt: message.claimCount - 1 },
          text: "",
          toolCalls: [],
          usage: { inputTokens: 0, outputTokens: 0 },
          costUsd: 0,
          totalCostUsd: 0,
          claudeSessionId: null,
          durationMs: 0,
        });
      }
      const conversation = await planConversation({
        api,
        manager,
        claudeEnv: this.ctx.claudeEnv,
        sessionId: this.sessionId,
        message,
        shapeClaudeSessionId: place.claudeSessionId,
      });
      if (conversation.handedOver) {
        logger.info({ sessionId: this.sessionId, turnId }, "conversation continued from another device");
      }
      manager.startSession({
        sessionId: this.sessionId,
        cwd: place.cwd,
        claudeSessionId: conversation.resume ?? undefined,
      });
      let outputTokens = 0;
      let deltas = 0;
      let firstTokenAt: number | undefined;
      const unsubscribe = manager.subscribe(this.sessionId, (event: ClaudeSessionEvent) => {
        if (event.turnId !== turnId) return;
        if (event.type === "turn_started") {
          writer.append({
            ...event,
            message: {
              id: message.id,
              content: message.content,
              createdById: message.createdById,
              createdAt: new Date(message.createdAt).toISOString(),
            },
            deviceId: this.ctx.deviceId,
            attempt: message.claimCount,
          });
          this.ctx.onProgress?.({
            sessionId: this.sessionId,
            turnId,
            phase: "started",
            outputTokens: 0,
            elapsedMs: 0,
            streamingMs: 0,
          });
          return;
        }
        writer.append(event);
        if (event.type === "stream_event" && event.event.type === "message_delta") {
          outputTokens += event.event.usage.output_tokens ?? 0;
        } else if (
          event.type === "stream_event" &&
          event.event.type === "content_block_delta" &&
          event.event.delta.type === "text_delta"
        ) {
          deltas += 1;
          firstTokenAt ??= performance.now();
          this.ctx.onProgress?.({
            sessionId: this.sessionId,
            turnId,
            phase: "streaming",
            // Text deltas stand in for tokens until the model reports its usage.
            outputTokens: Math.max(outputTokens, deltas),
            elapsedMs: performance.now() - started,
            streamingMs: performance.now() - firstTokenAt,
          });
        }
      });
      if (interruptRequested) setImmediate(() => manager.interrupt(this.sessionId, turnId));
      let end: TurnEndEvent;
      try {
        end = await manager.sendMessage({ sessionId: this.sessionId, content: conversation.prompt, turnId });
      } finally {
        unsubscribe();
      }
      await writer.flush();
      if (lost) return;
      if (this.stopped) {
        // A host shutting down is not a stop button: the message goes back to the queue for another run.
        await retry(() => api.device.release.mutate({ messageId: turnId })).catch(() => {});
        return;
      }
      const saved = await this.record(end, conversation.resume);
      writer.append({ type: "turn_saved", sessionId: this.sessionId, turnId, ...saved });
      await writer.flush();
      this.ctx.onProgress?.({
        sessionId: this.sessionId,
        turnId,
        phase: "finished",
        outputTokens: end.usage.outputTokens,
        elapsedMs: performance.now() - started,
        streamingMs: firstTokenAt === undefined ? 0 : performance.now() - firstTokenAt,
        status: end.status,
      });
    } finally {
      clearInterval(lease);
    }
  }

  /** Records the turn's outcome once at the API; retries transport failures (the calls are idempotent). */
  private async record(end: TurnEndEvent, resumed: string | null) {
    const { api } = this.ctx;
    const messageId = end.turnId;
    if (end.claudeSessionId && end.claudeSessionId !== resumed) {
      await retry(() =>
        api.device.setClaudeSessionId.mutate({
          sessionId: this.sessionId,
          claudeSessionId: end.claudeSessionId ?? "",
        }),
      ).catch((error) =>
        this.ctx.logger.warn({ err: String(error) }, "could not store the Claude session id"),
      );
    }
    if (end.status === "done") {
      const answer = await retry(() =>
        api.chat.saveAssistantMessage.mutate({
          messageId,
          content: end.text,
          toolCalls: end.toolCalls.length > 0 ? end.toolCalls : undefined,
          inputTokens: end.usage.inputTokens,
          outputTokens: end.usage.outputTokens,
          costUsd: end.costUsd,
        }),
      );
      return { messageStatus: "done" as const, assistantMessageId: answer.id };
    }
    const status = end.status === "interrupted" ? ("interrupted" as const) : ("failed" as const);
    await retry(() =>
      api.device.finishTurn.mutate({ messageId, status, error: end.reason.slice(0, 4000) || undefined }),
    );
    return { messageStatus: status, assistantMessageId: null };
  }
}

/** Retries a call whose failure is the network's (no tRPC error code), a few times. */
async function retry<T>(call: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (error) {
      if (apiErrorCode(error) !== null || i >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * i));
    }
  }
}
