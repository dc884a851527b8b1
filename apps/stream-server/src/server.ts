import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { createStreamTokenVerifier } from "@superset/stream-tokens";
import pino, { type Logger } from "pino";
import type { Env } from "./env";
import { type AppOptions, createApp } from "./http/app";
import { createFastPath } from "./http/fast";
import { createMetrics } from "./http/metrics";
import { RateLimiter } from "./http/rate-limit";
import { cachingVerifier } from "./http/token-cache";
import { MemoryBeats, type PresenceBeats } from "./presence/beats";
import { PresenceService } from "./presence/service";
import { FileBackend } from "./store/file";
import { MemoryBackend } from "./store/memory";
import { RedisBackend, RedisBeats } from "./store/redis";
import type { StreamBackend } from "./store/types";
import { StreamEngine } from "./streams/engine";
import { WebhookUrlPolicy } from "./subscriptions/webhook-url";

/** A running stream server: its URL and a graceful stop. */
export interface RunningServer {
  url: string;
  port: number;
  engine: StreamEngine;
  presence: PresenceService;
  stop(): Promise<void>;
}

export async function startServer(
  env: Env,
  logger: Logger = pino({ level: env.LOG_LEVEL }),
): Promise<RunningServer> {
  const { backend, beats } = await openStorage(env);
  const engine = new StreamEngine(backend);
  const presence = new PresenceService(engine, beats, env.STREAM_PRESENCE_TTL_MS);
  presence.start();
  const shutdown = new AbortController();
  const verify =
    env.STREAM_AUTH === "none"
      ? null
      : cachingVerifier(
          createStreamTokenVerifier(
            env.STREAM_AUTH_SECRET
              ? { secret: env.STREAM_AUTH_SECRET }
              : { jwksUrl: env.STREAM_JWKS_URL as string },
          ),
        );
  const appOptions: AppOptions = {
    engine,
    presence,
    verify,
    rateLimiter: verify ? new RateLimiter(env.STREAM_RATE_LIMIT_PER_SEC, env.STREAM_RATE_LIMIT_BURST) : null,
    metrics: createMetrics(),
    logger,
    read: { longPollTimeoutMs: env.STREAM_LONG_POLL_TIMEOUT_MS, sseMaxMs: env.STREAM_SSE_MAX_MS },
    maxBodyBytes: env.STREAM_MAX_BODY_BYTES,
    shutdown: shutdown.signal,
    health: async () => !shutdown.signal.aborted,
    subscriptions: {
      policy: new WebhookUrlPolicy(env.STREAM_WEBHOOK_ALLOWED_HOSTS),
      webhookTimeoutMs: env.STREAM_WEBHOOK_TIMEOUT_MS,
      sweepMs: env.STREAM_SUBSCRIPTION_SWEEP_MS,
      keys: {
        signingKey: env.STREAM_WEBHOOK_SIGNING_KEY,
        tokenSecret:
          env.STREAM_CALLBACK_TOKEN_SECRET === undefined
            ? undefined
            : Buffer.from(env.STREAM_CALLBACK_TOKEN_SECRET, "utf8"),
      },
    },
  };
  const app = createApp(appOptions);
  // Appends and SSE reads are served on node:http directly; the rest goes through the Hono app.
  const server = createServer({ noDelay: true }, createFastPath(appOptions, getRequestListener(app.fetch)));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(env.PORT, env.HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = env.HOST === "0.0.0.0" ? "127.0.0.1" : env.HOST;
  logger.info(
    { port, storage: env.STREAM_STORAGE, auth: verify ? "jwt" : "none" },
    "stream server listening",
  );
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    engine,
    presence,
    stop: () => {
      stopping ??= (async () => {
        shutdown.abort();
        presence.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          if ("closeIdleConnections" in server) server.closeIdleConnections();
          setTimeout(() => {
            if ("closeAllConnections" in server) server.closeAllConnections();
          }, 2000).unref();
        });
        await engine.close();
        logger.info("stream server stopped");
      })();
      return stopping;
    },
  };
}

async function openStorage(env: Env): Promise<{ backend: StreamBackend; beats: PresenceBeats }> {
  switch (env.STREAM_STORAGE) {
    case "memory":
      return { backend: new MemoryBackend(), beats: new MemoryBeats() };
    case "file":
      return {
        backend: await FileBackend.open({
          dir: env.STREAM_DATA_DIR,
          fsync: env.STREAM_FSYNC === "on",
          segmentBytes: env.STREAM_SEGMENT_BYTES,
          compactAfterSegments: env.STREAM_COMPACT_AFTER_SEGMENTS,
        }),
        beats: new MemoryBeats(),
      };
    case "redis": {
      const backend = await RedisBackend.connect(env.REDIS_URL as string);
      return { backend, beats: new RedisBeats(backend.client) };
    }
  }
}
