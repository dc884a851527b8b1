import { createAuth } from "@superset/auth";
import { createDb } from "@superset/db/client";
import type { ApiDeps } from "@superset/trpc";
import { apiEnv } from "../env";
import { createLogger, type Logger } from "./logger";

let deps: ApiDeps | undefined;
let logger: Logger | undefined;

/** The API process's singletons (database pool, auth), created on first request. */
export function getDeps(): ApiDeps {
  if (!deps) {
    const env = apiEnv();
    const db = createDb(env.DATABASE_URL);
    deps = {
      db,
      auth: createAuth({
        db,
        secret: env.BETTER_AUTH_SECRET,
        baseURL: env.BETTER_AUTH_URL,
        trustedOrigins: env.TRUSTED_ORIGINS,
      }),
      streamAuthSecret: env.STREAM_AUTH_SECRET,
      streamUrl: env.DURABLE_STREAM_URL,
      chat: {
        leaseMs: env.CLAIM_LEASE_MS,
        maxClaims: env.MAX_CLAIMS,
        streamTokenTtlSeconds: env.STREAM_TOKEN_TTL_SECONDS,
      },
    };
  }
  return deps;
}

export function getLogger(): Logger {
  logger ??= createLogger(apiEnv().LOG_LEVEL);
  return logger;
}

export function getTrustedOrigins(): readonly string[] {
  return apiEnv().TRUSTED_ORIGINS;
}

/** Closes the database pool (graceful shutdown). */
export async function closeDeps(): Promise<void> {
  const current = deps;
  deps = undefined;
  await current?.db.$client.end();
}
