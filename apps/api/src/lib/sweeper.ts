import type { Database } from "@superset/db/client";
import { expireApprovals, expireLeases } from "@superset/trpc";
import type { Logger } from "./logger";

/**
 * Puts messages whose lease lapsed back in the queue (or fails them after the
 * last claim) and expires overdue permission requests, every `intervalMs`.
 * Claims and heartbeats sweep too; this covers the time no desktop calls.
 */
export function startSweeper(options: {
  db: Database;
  maxClaims: number;
  intervalMs: number;
  logger: Logger;
}) {
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      const leases = await expireLeases(options.db, { maxClaims: options.maxClaims });
      const approvals = await expireApprovals(options.db);
      if (leases.requeued + leases.failed + leases.interrupted + approvals > 0) {
        options.logger.info({ ...leases, approvalsExpired: approvals }, "swept expired leases");
      }
    } catch (error) {
      options.logger.error({ err: error }, "lease sweep failed");
    } finally {
      running = false;
    }
  };
  const timer = setInterval(sweep, options.intervalMs);
  timer.unref();
  return {
    sweep,
    stop: () => clearInterval(timer),
  };
}
