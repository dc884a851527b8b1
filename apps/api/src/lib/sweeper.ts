import type { Database } from "@superset/db/client";
import { expireApprovals, expireLeases } from "@superset/trpc";
import { apiEnv } from "../env";
import type { Logger } from "./logger";
import { writeStreamEnds } from "./stream-end";

/**
 * Puts messages whose lease lapsed back in the queue (or fails them after the
 * last claim) and expires overdue permission requests, every `intervalMs`.
 * Claims and heartbeats sweep too; this covers the time no desktop calls.
 * Turns the sweep ended get their end events on the durable stream (stream-end.ts).
 */
export function startSweeper(options: {
  db: Database;
  maxClaims: number;
  intervalMs: number;
  logger: Logger;
  /** Where and how to append the end of turns ended by lease expiry; from the API env when absent. */
  stream?: { url: string; authSecret: string };
}) {
  const stream = options.stream ?? {
    url: apiEnv().DURABLE_STREAM_INTERNAL_URL,
    authSecret: apiEnv().STREAM_AUTH_SECRET,
  };
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
      const ends = await writeStreamEnds({
        db: options.db,
        streamUrl: stream.url,
        streamAuthSecret: stream.authSecret,
        logger: options.logger,
      });
      if (ends.written + ends.missing + ends.rejected > 0) {
        options.logger.info(ends, "wrote turn ends on the stream");
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
