import { hostname } from "node:os";
import type { Logger } from "pino";
import type { ApprovalDecision, RequestApproval } from "../claude/approvals";
import { ClaudeSessionManager, type ClaudeSessionManagerOptions } from "../claude/session-manager";
import { apiErrorCode, createHostApi } from "./api-client";
import { type ApprovalRow, type ElectricSource, Pickup } from "./pickup";
import { type ClaimedMessage, SessionRunner, type TurnProgress } from "./runner";

export interface HostOptions {
  apiUrl: string;
  /** The signed-in user's better-auth session token. */
  bearer: string;
  /** Workspace id → local folder. */
  workspaces: Record<string, string>;
  /** A device credential from an earlier registration; a new device is registered without it. */
  deviceToken?: string;
  deviceName?: string;
  /** The environment of Claude Code processes (buildClaudeEnv). */
  claudeEnv: Record<string, string>;
  model?: string;
  executablePath?: string;
  /**
   * The Electric proxy's shape endpoint (default `<apiUrl>/api/electric/v1/shape`), always called with
   * the bearer. Only for an API whose proxy is served elsewhere: never the sync service itself.
   */
  shapeUrl?: string;
  /** Replaces the stream server origin the API advertises. */
  streamUrl?: string;
  /** Must match the API's CLAIM_LEASE_MS (renewals every third of it). Default 30 s. */
  leaseMs?: number;
  heartbeatMs?: number;
  /** How often the host asks `claimNext` in case a shape update was missed (default 5 s). */
  pollMs?: number;
  approvalTimeoutMs?: number;
  /** Poll interval of a pending approval while Electric has not delivered its answer (default 1 s). */
  approvalPollMs?: number;
  lingerMs?: number;
  maxProcesses?: number;
  /** Where the host lists its Claude Code processes; the next start stops those a crash left running. */
  processRegistryFile?: string;
  logger: Logger;
  onProgress?: (progress: TurnProgress) => void;
}

export interface RunningHost {
  deviceId: string;
  deviceToken: string;
  organizationId: string;
  manager: ClaudeSessionManager;
  runners: Map<string, SessionRunner>;
  /** Whether the sessions shape has shown this session (its messages are picked up from the shape). */
  follows(sessionId: string): boolean;
  stop(): Promise<void>;
}

/**
 * The desktop host: registers the device, heartbeats with its open
 * workspaces, follows pending messages through Electric, claims and runs
 * them with the Claude session manager, and streams every event to the
 * session's durable stream. Plain Node; the Electron main process calls
 * the same function.
 */
export async function startHost(options: HostOptions): Promise<RunningHost> {
  const { logger } = options;
  const workspaceIds = Object.keys(options.workspaces);
  const api = createHostApi({
    url: options.apiUrl,
    bearer: options.bearer,
    deviceToken: options.deviceToken,
  });
  const me = await api.client.me.get.query();
  if (!me.organizationId) throw new Error("The signed-in user has no active organization");

  let deviceToken = options.deviceToken;
  let deviceId: string;
  if (deviceToken) {
    const device = await api.client.device.heartbeat.mutate({ workspaceIds });
    deviceId = device.id;
  } else {
    const registered = await api.client.device.register.mutate({
      name: options.deviceName ?? `${hostname()} (headless host)`,
      platform: process.platform,
      agentVersion: "host-0.1",
      workspaceIds,
    });
    deviceId = registered.deviceId;
    deviceToken = registered.deviceToken;
    api.setDeviceToken(deviceToken);
  }
  logger.info({ deviceId, workspaces: workspaceIds }, "device ready");

  const waiters = new Map<string, (row: ApprovalRow) => void>();
  const runners = new Map<string, SessionRunner>();
  const approvalPollMs = options.approvalPollMs ?? 1_000;

  /** Permission requests go to the API; the first answer from any client comes back through the shape (or a poll). */
  const requestApproval: RequestApproval = async (request) => {
    const toolUseId = request.toolUseId ?? request.approvalId;
    const timeoutMs = Math.max(1_000, options.approvalTimeoutMs ?? 60_000);
    const created = await api.client.device.requestApproval.mutate({
      messageId: request.turnId,
      toolUseId,
      toolName: request.toolName,
      toolInput: request.input,
      timeoutMs,
    });
    runners.get(request.sessionId)?.appendEvent({
      type: "approval_opened",
      sessionId: request.sessionId,
      turnId: request.turnId,
      approvalId: created.id,
      localApprovalId: request.approvalId,
      toolUseId,
      toolName: request.toolName,
      input: request.input,
      expiresAt: new Date(created.expiresAt).getTime(),
    });
    const decision = (row: { status: string; reason: string | null }): ApprovalDecision | null => {
      if (row.status === "allowed") return { behavior: "allow" };
      if (row.status === "denied")
        return { behavior: "deny", message: row.reason ?? "Denied by a participant" };
      if (row.status === "expired") return { behavior: "deny", message: "The permission request expired" };
      return null;
    };
    const first = decision(created);
    if (first) return first;
    return new Promise<ApprovalDecision>((resolve) => {
      let done = false;
      const finish = (result: ApprovalDecision) => {
        if (done) return;
        done = true;
        waiters.delete(created.id);
        clearInterval(poll);
        resolve(result);
      };
      waiters.set(created.id, (row) => {
        const d = decision(row);
        if (d) finish(d);
      });
      const poll = setInterval(() => {
        api.client.device.getApproval
          .query({ approvalId: created.id })
          .then((row) => {
            const d = decision(row);
            if (d) finish(d);
          })
          .catch(() => {});
      }, approvalPollMs);
      request.signal.addEventListener(
        "abort",
        () => {
          finish({ behavior: "deny", message: "No answer in time: denied" });
          api.client.device.expireApproval.mutate({ approvalId: created.id }).catch(() => {});
        },
        { once: true },
      );
    });
  };

  const managerOptions: ClaudeSessionManagerOptions = {
    env: options.claudeEnv,
    model: options.model,
    executablePath: options.executablePath,
    logger: logger.child({ component: "claude" }),
    requestApproval,
    approvalTimeoutMs: options.approvalTimeoutMs,
    maxProcesses: options.maxProcesses,
    processRegistryFile: options.processRegistryFile,
  };
  const manager = new ClaudeSessionManager(managerOptions);
  const leaseMs = options.leaseMs ?? 30_000;

  const pickupRef: { current?: Pickup } = {};
  const placeOf = (sessionId: string) => {
    const session = pickupRef.current?.sessions.get(sessionId);
    const cwd = session?.workspace_id ? options.workspaces[session.workspace_id] : undefined;
    return cwd ? { cwd, claudeSessionId: session?.claude_session_id ?? null } : undefined;
  };
  const runnerFor = (sessionId: string) => {
    let runner = runners.get(sessionId);
    if (!runner) {
      runner = new SessionRunner(sessionId, () => placeOf(sessionId), {
        api: api.client,
        manager,
        claudeEnv: options.claudeEnv,
        deviceId,
        leaseMs,
        streamUrl: options.streamUrl,
        lingerMs: options.lingerMs,
        logger: logger.child({ sessionId }),
        onProgress: options.onProgress,
      });
      runners.set(sessionId, runner);
    }
    return runner;
  };

  let stopping = false;
  /** Queues every pending message of a session whose workspace is open here. */
  const findWork = () => {
    const pickup = pickupRef.current;
    if (!pickup || stopping) return;
    logger.debug({ open: pickup.messages.size, sessions: pickup.sessions.size }, "looking for work");
    for (const message of pickup.messages.values()) {
      if (message.status !== "pending") continue;
      const session = pickup.sessions.get(message.session_id);
      if (!session?.workspace_id || !(session.workspace_id in options.workspaces)) continue;
      runnerFor(message.session_id).enqueue(message.id, message.created_at);
    }
  };

  const electric: ElectricSource = {
    url: options.shapeUrl ?? `${options.apiUrl.replace(/\/$/, "")}/api/electric/v1/shape`,
    headers: { authorization: `Bearer ${options.bearer}` },
  };
  const pickup = new Pickup(
    electric,
    deviceId,
    me.user.id,
    {
      onWork: findWork,
      onInterrupt: (messageId) => {
        for (const runner of runners.values()) runner.interrupt(messageId);
      },
      onApproval: (row) => waiters.get(row.id)?.(row),
    },
    logger.child({ component: "pickup" }),
  );
  pickupRef.current = pickup;

  // Safety net for missed shape updates: ask for the oldest claimable message now and then.
  const pollForWork = async () => {
    if (stopping) return;
    try {
      const claimed = (await api.client.device.claimNext.mutate({})) as ClaimedMessage | null;
      if (claimed) {
        runnerFor(claimed.sessionId).enqueue(claimed.id, new Date(claimed.createdAt).toISOString(), claimed);
      }
    } catch (error) {
      logger.warn({ err: String(error), code: apiErrorCode(error) }, "claimNext failed");
    }
  };
  const heartbeat = setInterval(() => {
    api.client.device.heartbeat
      .mutate({ workspaceIds })
      .catch((error) => logger.warn({ err: String(error) }, "heartbeat failed"));
  }, options.heartbeatMs ?? 10_000);
  heartbeat.unref();

  await pickup.start();
  const poll = setInterval(pollForWork, options.pollMs ?? 5_000);
  poll.unref();
  findWork();
  logger.info({ deviceId }, "host started");

  return {
    deviceId,
    deviceToken,
    organizationId: me.organizationId,
    manager,
    runners,
    follows: (sessionId) => pickup.sessions.has(sessionId),
    async stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(heartbeat);
      clearInterval(poll);
      pickup.stop();
      await Promise.all([...runners.values()].map((runner) => runner.stop()));
      await manager.close();
      logger.info({ deviceId }, "host stopped");
    },
  };
}
