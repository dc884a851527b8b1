import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Logger } from "pino";
import { createApp } from "./http/app";
import { ShapeEngine } from "./shapes/engine";

export interface SyncServiceOptions {
  databaseUrl: string;
  dataDir: string;
  streamId: string;
  secret: string | null;
  port: number;
  host?: string;
  longPollTimeoutMs?: number;
  sseTimeoutMs?: number;
  logger: Logger;
}

export interface RunningSyncService {
  url: string;
  port: number;
  engine: ShapeEngine;
  /** Stops serving and replicating; `dropSlot` also removes the slot and publication. */
  stop(options?: { dropSlot?: boolean }): Promise<void>;
}

/** Starts the engine (slot, restored shapes, replication) and serves the Shape API. */
export async function startSyncService(options: SyncServiceOptions): Promise<RunningSyncService> {
  const engine = new ShapeEngine({
    databaseUrl: options.databaseUrl,
    dataDir: options.dataDir,
    streamId: options.streamId,
    logger: options.logger,
  });
  await engine.start();
  const app = createApp({
    engine,
    secret: options.secret,
    longPollTimeoutMs: options.longPollTimeoutMs ?? 20_000,
    sseTimeoutMs: options.sseTimeoutMs ?? 60_000,
    logger: options.logger,
  });
  const host = options.host ?? "127.0.0.1";
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: host }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  let stopping: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    port,
    engine,
    stop: (stopOptions) => {
      stopping ??= (async () => {
        await engine.stop(stopOptions);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Long-polls and SSE streams end now rather than at their timeout.
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
      })();
      return stopping;
    },
  };
}
