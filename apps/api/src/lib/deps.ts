import { createAuth } from "@superset/auth";
import { createDb } from "@superset/db/client";
import type { ApiDeps } from "@superset/trpc";
import { apiEnv } from "../env";

let deps: ApiDeps | undefined;

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
    };
  }
  return deps;
}
