import { apiEnv } from "./env";
import { closeDeps, getDeps, getLogger } from "./lib/deps";
import { startSweeper } from "./lib/sweeper";

/**
 * Node.js start-up of the API: validate the environment (a bad value stops
 * the start, naming the variable), start the lease sweeper, and close the
 * database pool on SIGTERM/SIGINT.
 */
export function startApiProcess(): void {
  const env = apiEnv();
  const logger = getLogger();
  const sweeper = startSweeper({
    db: getDeps().db,
    maxClaims: env.MAX_CLAIMS,
    intervalMs: env.LEASE_SWEEP_INTERVAL_MS,
    logger,
  });
  logger.info({ leaseMs: env.CLAIM_LEASE_MS, maxClaims: env.MAX_CLAIMS }, "api started");
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    sweeper.stop();
    closeDeps()
      .catch((error) => logger.error({ err: error }, "closing the database pool failed"))
      .finally(() => process.exit(0));
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}
