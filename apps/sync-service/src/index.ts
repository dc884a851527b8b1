import path from "node:path";
import pino from "pino";
import { loadEnv } from "./env";
import { startSyncService } from "./server";

export { createApp } from "./http/app";
export { type RunningSyncService, type SyncServiceOptions, startSyncService } from "./server";

async function main(): Promise<void> {
  const env = loadEnv();
  const logger = pino({ level: env.LOG_LEVEL, name: "sync-service" });
  if (env.ELECTRIC_INSECURE)
    logger.warn("ELECTRIC_INSECURE=true: the Shape API accepts requests without a secret");
  const service = await startSyncService({
    databaseUrl: env.DATABASE_URL,
    dataDir: path.resolve(env.SYNC_DATA_DIR),
    streamId: env.ELECTRIC_REPLICATION_STREAM_ID,
    secret: env.ELECTRIC_INSECURE ? null : (env.ELECTRIC_SECRET ?? null),
    port: env.PORT,
    host: "0.0.0.0",
    longPollTimeoutMs: env.ELECTRIC_LONG_POLL_TIMEOUT,
    sseTimeoutMs: env.SSE_TIMEOUT,
    logger,
  });
  logger.info({ url: service.url, shapes: service.engine.shapeCount }, "sync service listening");
  const shutdown = (signal: string) => {
    logger.info({ signal }, "shutting down");
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(`sync-service failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
