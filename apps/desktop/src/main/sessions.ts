import type { DesktopEnv } from "../env";
import { ApprovalBroker } from "./lib/claude/approvals";
import type { ClaudeBackend } from "./lib/claude/backend";
import type { Logger } from "./lib/claude/logger";
import { ClaudeSessionManager } from "./lib/claude/session-manager";

/** The desktop's session manager and approval broker, configured from its environment (Electron and terminal alike). */
export function createDesktopSessions(
  env: DesktopEnv,
  backend: ClaudeBackend,
  logger: Logger,
  /** Where the app lists its Claude Code processes, so that a crash's leftovers are stopped at the next start. */
  processRegistryFile?: string,
) {
  const approvals = new ApprovalBroker();
  const sessions = new ClaudeSessionManager({
    env: backend.env,
    executablePath: backend.executablePath,
    model: env.CLAUDE_MODEL,
    logger,
    requestApproval: approvals.request,
    approvalTimeoutMs: env.CLAUDE_APPROVAL_TIMEOUT_MS,
    idleTimeoutMs: env.CLAUDE_IDLE_TIMEOUT_MS,
    maxProcesses: env.CLAUDE_MAX_PROCESSES,
    processRegistryFile,
  });
  return { approvals, sessions };
}
