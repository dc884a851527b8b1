import { randomUUID } from "node:crypto";
import { statSync } from "node:fs";
import { isAbsolute } from "node:path";
import { denyAllApprovals, type RequestApproval } from "./approvals";
import { ClaudeCoreError } from "./errors";
import type { ClaudeSessionEvent, TurnEndEvent } from "./events";
import { createLogger, type Logger } from "./logger";
import { ProcessRegistry } from "./process-registry";
import { ClaudeSession, type SessionRuntime } from "./session";

export interface ClaudeSessionManagerOptions {
  /** The complete environment of each Claude Code process (see `buildClaudeEnv`). */
  env: Record<string, string>;
  /** Claude Code binary; default: the one the Agent SDK resolves. */
  executablePath?: string;
  model?: string;
  logger?: Logger;
  /** Who answers tool permission requests. Default: deny everything. */
  requestApproval?: RequestApproval;
  /** No answer within this time means deny (default 60 s). */
  approvalTimeoutMs?: number;
  /** An idle session releases its process after this time (default 10 min). */
  idleTimeoutMs?: number;
  /** At most this many Claude Code processes at once (default 4); idle ones are released first. */
  maxProcesses?: number;
  /** After an interrupt, how long Claude Code may take to end the turn before its process is stopped. */
  interruptGraceMs?: number;
  /**
   * Where the manager lists the Claude Code processes it runs. At construction it stops the ones an
   * earlier run on this file left behind (see `ProcessRegistry`). Without it, nothing is recorded.
   */
  processRegistryFile?: string;
}

export interface StartSessionInput {
  sessionId: string;
  cwd: string;
  /** Claude Code's session id saved from an earlier run: the next turn resumes that conversation. */
  claudeSessionId?: string;
  /**
   * On resume, the SDK's running cost total starts from what the transcript saved: pass the `totalCostUsd` of
   * the session's last turn so that the first turn's `costUsd` counts only that turn.
   */
  previousTotalCostUsd?: number;
}

export interface SessionInfo {
  sessionId: string;
  cwd: string;
  claudeSessionId: string | null;
  busy: boolean;
  hasProcess: boolean;
  pid: number | undefined;
}

type Listener = (event: ClaudeSessionEvent) => void;

/**
 * Runs Claude Code sessions with the real Agent SDK, in streaming-input mode so that each session's process
 * stays warm between turns. Plain Node: everything it needs is injected.
 */
export class ClaudeSessionManager {
  private readonly sessions = new Map<string, ClaudeSession>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly idleTimers = new Map<string, NodeJS.Timeout>();
  private readonly slotWaiters: (() => void)[] = [];
  private liveProcesses = 0;
  private closed = false;
  readonly logger: Logger;
  private readonly runtime: SessionRuntime;
  private readonly idleTimeoutMs: number;
  private readonly maxProcesses: number;
  /** Claude Code processes spawned so far, by session id. */
  readonly processStarts = new Map<string, number>();

  private readonly registry: ProcessRegistry | undefined;
  /** Processes of an earlier run stopped at construction. */
  readonly reapedProcesses: number[];

  constructor(options: ClaudeSessionManagerOptions) {
    this.logger = options.logger ?? createLogger();
    this.registry = options.processRegistryFile
      ? new ProcessRegistry(options.processRegistryFile, this.logger)
      : undefined;
    this.reapedProcesses = this.registry?.reapOrphans() ?? [];
    this.idleTimeoutMs = options.idleTimeoutMs ?? 10 * 60_000;
    this.maxProcesses = Math.max(1, options.maxProcesses ?? 4);
    this.runtime = {
      env: options.env,
      executablePath: options.executablePath,
      model: options.model,
      logger: this.logger,
      requestApproval: options.requestApproval ?? denyAllApprovals,
      approvalTimeoutMs: options.approvalTimeoutMs ?? 60_000,
      interruptGraceMs: options.interruptGraceMs ?? 5_000,
      acquireProcessSlot: (session) => this.acquireSlot(session),
      releaseProcessSlot: () => this.releaseSlot(),
      onProcessSpawned: (session, pid, argv) => {
        this.processStarts.set(session.sessionId, (this.processStarts.get(session.sessionId) ?? 0) + 1);
        if (pid !== undefined) this.registry?.add(pid, argv);
        this.logger.info({ sessionId: session.sessionId, pid }, "claude process spawned");
      },
      onProcessExited: (_session, pid) => {
        if (pid !== undefined) this.registry?.remove(pid);
      },
      publish: (event) => this.publish(event),
      onIdle: (session) => this.onIdle(session),
    };
  }

  get liveProcessCount(): number {
    return this.liveProcesses;
  }

  startSession(input: StartSessionInput): SessionInfo {
    this.assertOpen();
    if (!input.sessionId.trim()) throw new ClaudeCoreError("invalid_input", "sessionId: must not be empty");
    if (!isAbsolute(input.cwd)) throw new ClaudeCoreError("invalid_input", "cwd: must be an absolute path");
    if (!statSync(input.cwd, { throwIfNoEntry: false })?.isDirectory()) {
      throw new ClaudeCoreError("cwd_not_found", `cwd: ${input.cwd} is not an existing directory`);
    }
    const existing = this.sessions.get(input.sessionId);
    if (existing) {
      if (existing.cwd !== input.cwd) {
        throw new ClaudeCoreError("invalid_input", `session ${input.sessionId} already runs in another cwd`);
      }
      return this.info(existing);
    }
    const baseline = input.previousTotalCostUsd ?? 0;
    if (!Number.isFinite(baseline) || baseline < 0) {
      throw new ClaudeCoreError("invalid_input", "previousTotalCostUsd: must be a non-negative number");
    }
    const session = new ClaudeSession(
      input.sessionId,
      input.cwd,
      input.claudeSessionId,
      this.runtime,
      baseline,
    );
    this.sessions.set(input.sessionId, session);
    this.logger.info(
      { sessionId: input.sessionId, resume: Boolean(input.claudeSessionId) },
      "session started",
    );
    return this.info(session);
  }

  /** Runs one turn; resolves with its final event (done, error or interrupted). Never rejects for model errors. */
  sendMessage(input: { sessionId: string; content: string; turnId?: string }): Promise<TurnEndEvent> {
    this.assertOpen();
    const session = this.require(input.sessionId);
    if (!input.content.trim()) throw new ClaudeCoreError("invalid_input", "content: must not be empty");
    clearTimeout(this.idleTimers.get(session.sessionId));
    this.idleTimers.delete(session.sessionId);
    return session.send(input.turnId ?? randomUUID(), input.content);
  }

  interrupt(sessionId: string, turnId?: string): boolean {
    return this.require(sessionId).interrupt(turnId);
  }

  getSession(sessionId: string): SessionInfo | null {
    const session = this.sessions.get(sessionId);
    return session ? this.info(session) : null;
  }

  /** Listens to one session's events (or to every session's with "*"). Returns the unsubscribe function. */
  subscribe(sessionId: string, listener: Listener): () => void {
    let set = this.listeners.get(sessionId);
    if (!set) {
      set = new Set();
      this.listeners.set(sessionId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(sessionId) === set) this.listeners.delete(sessionId);
    };
  }

  /** Releases a session's process now if it is idle (the next turn starts a new one and resumes). */
  releaseIdle(sessionId: string): Promise<boolean> {
    return this.require(sessionId).releaseIfIdle();
  }

  /**
   * Ends one session: stops its process and forgets it, so that a later `startSession` begins again (the
   * desktop host uses it when the conversation moved on on another device). A running turn ends interrupted.
   */
  async closeSession(sessionId: string): Promise<void> {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    this.sessions.delete(sessionId);
    clearTimeout(this.idleTimers.get(sessionId));
    this.idleTimers.delete(sessionId);
    await session.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.idleTimers.values()) clearTimeout(timer);
    this.idleTimers.clear();
    await Promise.all([...this.sessions.values()].map((session) => session.close()));
    for (const wake of this.slotWaiters.splice(0)) wake();
  }

  private info(session: ClaudeSession): SessionInfo {
    return {
      sessionId: session.sessionId,
      cwd: session.cwd,
      claudeSessionId: session.claudeSessionId,
      busy: session.busy,
      hasProcess: session.hasProcess,
      pid: session.pid,
    };
  }

  private require(sessionId: string): ClaudeSession {
    const session = this.sessions.get(sessionId);
    if (!session) throw new ClaudeCoreError("session_not_found", `session ${sessionId} was not started`);
    return session;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClaudeCoreError("manager_closed", "the session manager is closed");
  }

  private publish(event: ClaudeSessionEvent): void {
    for (const key of [event.sessionId, "*"]) {
      for (const listener of this.listeners.get(key) ?? []) {
        try {
          listener(event);
        } catch (error) {
          this.logger.error({ sessionId: event.sessionId, err: String(error) }, "event listener failed");
        }
      }
    }
  }

  private onIdle(session: ClaudeSession): void {
    // A waiting session may now evict this one.
    for (const wake of this.slotWaiters.splice(0)) wake();
    clearTimeout(this.idleTimers.get(session.sessionId));
    const timer = setTimeout(() => {
      this.idleTimers.delete(session.sessionId);
      session.releaseIfIdle().then((released) => {
        if (released) this.logger.info({ sessionId: session.sessionId }, "idle session released its process");
      });
    }, this.idleTimeoutMs);
    timer.unref();
    this.idleTimers.set(session.sessionId, timer);
  }

  private async acquireSlot(requester: ClaudeSession): Promise<void> {
    while (true) {
      if (this.closed) throw new ClaudeCoreError("manager_closed", "the session manager is closed");
      if (this.liveProcesses < this.maxProcesses) {
        this.liveProcesses += 1;
        return;
      }
      const victim = [...this.sessions.values()]
        .filter((session) => session !== requester && session.hasProcess && !session.busy)
        .sort((a, b) => a.lastActiveAt - b.lastActiveAt)[0];
      if (victim) {
        this.logger.info({ sessionId: victim.sessionId }, "releasing least recently used idle session");
        await victim.releaseIfIdle();
        continue;
      }
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
  }

  private releaseSlot(): void {
    this.liveProcesses = Math.max(0, this.liveProcesses - 1);
    for (const wake of this.slotWaiters.splice(0)) wake();
  }
}
