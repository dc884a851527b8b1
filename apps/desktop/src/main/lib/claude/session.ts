import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  type CanUseTool,
  type PermissionResult,
  type Query,
  query,
  type SDKMessage,
  type SpawnOptions,
} from "@anthropic-ai/claude-agent-sdk";
import type { ApprovalDecision, RequestApproval } from "./approvals";
import { ClaudeCoreError } from "./errors";
import type { ClaudeSessionEvent, TurnEndEvent, UnstampedEvent } from "./events";
import type { Logger } from "./logger";
import { PromptQueue } from "./prompt-queue";
import { TurnAccumulator, toolResultText } from "./turn";

/** What every session of a manager shares. */
export interface SessionRuntime {
  /** The complete environment of the Claude Code process (it replaces process.env: include PATH and HOME). */
  env: Record<string, string>;
  executablePath?: string;
  model?: string;
  logger: Logger;
  requestApproval: RequestApproval;
  approvalTimeoutMs: number;
  interruptGraceMs: number;
  /** Waits until one more Claude Code process may run (the manager bounds how many run at once). */
  acquireProcessSlot(session: ClaudeSession): Promise<void>;
  releaseProcessSlot(session: ClaudeSession): void;
  onProcessSpawned(session: ClaudeSession, pid: number | undefined, argv: string[]): void;
  onProcessExited(session: ClaudeSession, pid: number | undefined): void;
  publish(event: ClaudeSessionEvent): void;
  onIdle(session: ClaudeSession): void;
}

interface LiveProcess {
  query: Query;
  input: PromptQueue;
  pid: number | undefined;
  closing: boolean;
  done: Promise<void>;
}

interface QueuedTurn {
  turnId: string;
  prompt: string;
  resolve: (event: TurnEndEvent) => void;
}

interface RunningTurn extends QueuedTurn {
  acc: TurnAccumulator;
  proc: LiveProcess;
  interruptRequested: boolean;
  interruptTimer?: NodeJS.Timeout;
  approvals: Set<AbortController>;
}

/** One chat session: a queue of turns run one at a time on a Claude Code process kept warm between turns. */
export class ClaudeSession {
  claudeSessionId: string | null;
  lastActiveAt = Date.now();
  private proc: LiveProcess | null = null;
  private current: RunningTurn | null = null;
  private readonly queue: QueuedTurn[] = [];
  private pumping = false;
  private seq = 0;
  private totalCostUsd = 0;

  constructor(
    readonly sessionId: string,
    readonly cwd: string,
    claudeSessionId: string | undefined,
    private readonly runtime: SessionRuntime,
    previousTotalCostUsd = 0,
  ) {
    this.claudeSessionId = claudeSessionId ?? null;
    this.totalCostUsd = previousTotalCostUsd;
  }

  get busy(): boolean {
    return this.current !== null || this.queue.length > 0 || this.pumping;
  }

  get hasProcess(): boolean {
    return this.proc !== null;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  send(turnId: string, prompt: string): Promise<TurnEndEvent> {
    if (this.current?.turnId === turnId || this.queue.some((turn) => turn.turnId === turnId)) {
      throw new ClaudeCoreError("turn_exists", `turn ${turnId} is already running or queued`);
    }
    const done = new Promise<TurnEndEvent>((resolve) => this.queue.push({ turnId, prompt, resolve }));
    this.lastActiveAt = Date.now();
    void this.pump();
    return done;
  }

  /** Interrupts the running turn (or drops a queued one). Returns false when the turn is not known. */
  interrupt(turnId?: string): boolean {
    const queuedIndex = turnId === undefined ? -1 : this.queue.findIndex((turn) => turn.turnId === turnId);
    if (queuedIndex >= 0) {
      const [queued] = this.queue.splice(queuedIndex, 1);
      if (queued) this.endUnstarted(queued, "interrupted before it started");
      return true;
    }
    const turn = this.current;
    if (!turn || (turnId !== undefined && turn.turnId !== turnId)) return false;
    if (turn.interruptRequested) return true;
    turn.interruptRequested = true;
    for (const approval of turn.approvals) approval.abort();
    turn.proc.query.interrupt().catch((error: unknown) => {
      this.runtime.logger.warn({ sessionId: this.sessionId, err: String(error) }, "interrupt request failed");
    });
    // If Claude Code does not end the turn by itself, stop its process: the next turn resumes.
    turn.interruptTimer = setTimeout(() => {
      if (this.current === turn) this.closeProcess(turn.proc);
    }, this.runtime.interruptGraceMs);
    return true;
  }

  /** Stops the process if the session is idle. Returns whether a process was released. */
  async releaseIfIdle(): Promise<boolean> {
    if (this.busy || !this.proc) return false;
    const proc = this.proc;
    this.closeProcess(proc);
    await proc.done;
    return true;
  }

  /** Ends everything: queued turns end as interrupted, the running one is interrupted, the process closed. */
  async close(): Promise<void> {
    for (const queued of this.queue.splice(0)) this.endUnstarted(queued, "the session was closed");
    if (this.current) this.current.interruptRequested = true;
    const proc = this.proc;
    if (proc) {
      this.closeProcess(proc);
      await proc.done;
    }
  }

  private emit(event: UnstampedEvent): ClaudeSessionEvent {
    this.seq += 1;
    const stamped = {
      ...event,
      sessionId: this.sessionId,
      seq: this.seq,
      at: Date.now(),
    } as ClaudeSessionEvent;
    this.runtime.publish(stamped);
    return stamped;
  }

  private endUnstarted(turn: QueuedTurn, reason: string): void {
    const acc = new TurnAccumulator(turn.turnId, turn.prompt);
    const summary = acc.summarize({
      status: "interrupted",
      reason,
      claudeSessionId: this.claudeSessionId,
      previousTotalCostUsd: this.totalCostUsd,
    });
    const event = { type: "turn_interrupted", turnId: turn.turnId, ...summary, reason } as UnstampedEvent;
    turn.resolve(this.emit(event) as TurnEndEvent);
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.current) return;
    const next = this.queue.shift();
    if (!next) return;
    this.pumping = true;
    try {
      let coldStart = false;
      if (!this.proc) {
        await this.runtime.acquireProcessSlot(this);
        try {
          this.proc = this.startProcess();
        } catch (error) {
          this.runtime.releaseProcessSlot(this);
          throw error;
        }
        coldStart = true;
      }
      const turn: RunningTurn = {
        ...next,
        acc: new TurnAccumulator(next.turnId, next.prompt),
        proc: this.proc,
        interruptRequested: false,
        approvals: new Set(),
      };
      this.current = turn;
      this.emit({ type: "turn_started", turnId: turn.turnId, prompt: turn.prompt, coldStart });
      turn.proc.input.push(turn.prompt);
    } catch (error) {
      this.runtime.logger.error({ sessionId: this.sessionId, err: String(error) }, "could not start turn");
      this.endUnstarted(next, `could not start Claude Code: ${String(error)}`);
    } finally {
      this.pumping = false;
    }
  }

  private startProcess(): LiveProcess {
    const input = new PromptQueue();
    const { logger } = this.runtime;
    const proc = { input, pid: undefined, closing: false } as LiveProcess;
    proc.query = query({
      prompt: input,
      options: {
        cwd: this.cwd,
        env: this.runtime.env,
        includePartialMessages: true,
        settingSources: [],
        canUseTool: this.canUseTool,
        ...(this.claudeSessionId ? { resume: this.claudeSessionId } : {}),
        ...(this.runtime.model ? { model: this.runtime.model } : {}),
        ...(this.runtime.executablePath ? { pathToClaudeCodeExecutable: this.runtime.executablePath } : {}),
        spawnClaudeCodeProcess: (options: SpawnOptions) => {
          const child = spawn(options.command, options.args, {
            cwd: options.cwd,
            env: options.env,
            signal: options.signal,
            stdio: ["pipe", "pipe", "pipe"],
          });
          child.stderr.on("data", (chunk: Buffer) => {
            logger.debug(
              { sessionId: this.sessionId, stderr: chunk.toString("utf8").slice(0, 500) },
              "claude stderr",
            );
          });
          child.on("error", (error) =>
            logger.warn({ sessionId: this.sessionId, err: String(error) }, "spawn error"),
          );
          proc.pid = child.pid;
          this.runtime.onProcessSpawned(this, child.pid, [options.command, ...options.args]);
          child.once("exit", () => this.runtime.onProcessExited(this, child.pid));
          return child;
        },
      },
    });
    proc.done = this.readLoop(proc);
    logger.info(
      { sessionId: this.sessionId, resume: Boolean(this.claudeSessionId) },
      "claude process starting",
    );
    return proc;
  }

  private closeProcess(proc: LiveProcess): void {
    if (proc.closing) return;
    proc.closing = true;
    proc.input.end();
    proc.query.close();
  }

  private async readLoop(proc: LiveProcess): Promise<void> {
    let failure: string | null = null;
    try {
      for await (const message of proc.query) this.onMessage(proc, message);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    if (this.proc === proc) this.proc = null;
    this.runtime.releaseProcessSlot(this);
    this.runtime.logger.info({ sessionId: this.sessionId, failure }, "claude process ended");
    const turn = this.current;
    if (turn && turn.proc === proc) {
      if (turn.interruptRequested) this.finishTurn(turn, "interrupted", "interrupted");
      else
        this.finishTurn(
          turn,
          "error",
          `Claude Code process ended during the turn${failure ? `: ${failure}` : ""}`,
        );
    } else if (this.queue.length > 0) {
      void this.pump();
    }
  }

  private onMessage(proc: LiveProcess, message: SDKMessage): void {
    if ("session_id" in message && typeof message.session_id === "string") {
      this.claudeSessionId = message.session_id;
    }
    const turn = this.current;
    if (!turn || turn.proc !== proc) return;
    switch (message.type) {
      case "stream_event":
        turn.acc.onStreamEvent(message.event, message.parent_tool_use_id);
        this.emit({
          type: "stream_event",
          turnId: turn.turnId,
          event: message.event,
          parentToolUseId: message.parent_tool_use_id,
        });
        break;
      case "assistant":
        for (const block of message.message.content) {
          if (block.type === "tool_use" && message.parent_tool_use_id === null) {
            turn.acc.onToolUse(block.id, block.name, block.input);
          }
        }
        this.emit({
          type: "assistant_message",
          turnId: turn.turnId,
          messageId: message.message.id,
          content: message.message.content as unknown[],
          parentToolUseId: message.parent_tool_use_id,
        });
        break;
      case "user": {
        const content = message.message.content;
        if (!Array.isArray(content)) break;
        for (const block of content) {
          if (block.type !== "tool_result") continue;
          const text = toolResultText(block.content);
          const isError = block.is_error === true;
          if (message.parent_tool_use_id === null) turn.acc.onToolResult(block.tool_use_id, text, isError);
          this.emit({
            type: "tool_result",
            turnId: turn.turnId,
            toolUseId: block.tool_use_id,
            content: text,
            isError,
            parentToolUseId: message.parent_tool_use_id,
          });
        }
        break;
      }
      case "result":
        turn.acc.onResult(message);
        if (turn.interruptRequested && message.is_error) this.finishTurn(turn, "interrupted", "interrupted");
        else if (message.is_error) this.finishTurn(turn, "error", turn.acc.errorReason());
        else this.finishTurn(turn, "done");
        break;
      default:
        break;
    }
  }

  private finishTurn(turn: RunningTurn, status: "done" | "error" | "interrupted", reason?: string): void {
    if (this.current !== turn) return;
    this.current = null;
    clearTimeout(turn.interruptTimer);
    for (const approval of turn.approvals) approval.abort();
    const summary = turn.acc.summarize({
      status,
      reason,
      claudeSessionId: this.claudeSessionId,
      previousTotalCostUsd: this.totalCostUsd,
    });
    this.totalCostUsd = summary.totalCostUsd;
    this.lastActiveAt = Date.now();
    const type = status === "done" ? "turn_done" : status === "error" ? "turn_error" : "turn_interrupted";
    const event = this.emit({ type, turnId: turn.turnId, ...summary } as UnstampedEvent) as TurnEndEvent;
    turn.resolve(event);
    if (this.queue.length > 0) void this.pump();
    else this.runtime.onIdle(this);
  }

  private readonly canUseTool: CanUseTool = async (toolName, input, options) => {
    const turn = this.current;
    const approvalId = randomUUID();
    const turnId = turn?.turnId ?? "none";
    const controller = new AbortController();
    const timeoutMs = this.runtime.approvalTimeoutMs;
    turn?.approvals.add(controller);
    const onAbort = () => controller.abort();
    options.signal.addEventListener("abort", onAbort, { once: true });
    this.emit({
      type: "approval_requested",
      turnId,
      approvalId,
      toolName,
      input,
      toolUseId: options.toolUseID ?? null,
      expiresAt: Date.now() + timeoutMs,
    });
    let decidedBy: "answer" | "timeout" | "turn_ended" = "answer";
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<ApprovalDecision>((resolve) => {
      timer = setTimeout(() => {
        decidedBy = "timeout";
        resolve({ behavior: "deny", message: `No answer within ${Math.round(timeoutMs / 1000)} s: denied` });
        controller.abort();
      }, timeoutMs);
    });
    const ended = new Promise<ApprovalDecision>((resolve) => {
      controller.signal.addEventListener("abort", () => {
        if (decidedBy === "answer") decidedBy = "turn_ended";
        resolve({ behavior: "deny", message: "The turn ended before an answer" });
      });
    });
    const answered = this.runtime
      .requestApproval({
        sessionId: this.sessionId,
        turnId,
        approvalId,
        toolName,
        input,
        toolUseId: options.toolUseID ?? null,
        signal: controller.signal,
      })
      .catch(
        (error: unknown): ApprovalDecision => ({
          behavior: "deny",
          message: `approval failed: ${String(error)}`,
        }),
      );
    const decision = await Promise.race([answered, timedOut, ended]);
    clearTimeout(timer);
    options.signal.removeEventListener("abort", onAbort);
    turn?.approvals.delete(controller);
    const message = decision.behavior === "deny" ? (decision.message ?? "Denied") : undefined;
    this.emit({
      type: "approval_resolved",
      turnId,
      approvalId,
      behavior: decision.behavior,
      decidedBy,
      ...(message === undefined ? {} : { message }),
    });
    const result: PermissionResult =
      decision.behavior === "allow"
        ? { behavior: "allow", updatedInput: input }
        : { behavior: "deny", message: message ?? "Denied" };
    return result;
  };
}
