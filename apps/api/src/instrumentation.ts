/**
 * Next.js calls register() once when the server starts: validate the
 * environment (a bad value stops the start, naming the variable), start the
 * lease sweeper, and close the database pool on SIGTERM/SIGINT.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { apiEnv } = await import("./env");
  const env = apiEnv();
  const { closeDeps, getDeps, getLogger } = await import("./lib/deps");
  const { startSweeper } = await import("./lib/sweeper");
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
