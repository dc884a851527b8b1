import { z } from "zod";

const DEV_SECRET = "dev-only-secret-change-me-dev-only-secret";

const schema = z
  .object({
    NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
    DATABASE_URL: z.string().url("DATABASE_URL must be a postgres:// URL"),
    BETTER_AUTH_SECRET: z.string().min(32, "BETTER_AUTH_SECRET must be at least 32 characters").optional(),
    BETTER_AUTH_URL: z.string().url().default("http://localhost:3001"),
    TRUSTED_ORIGINS: z
      .string()
      .default("http://localhost:3000,http://localhost:3001")
      .transform((s) =>
        s
          .split(",")
          .map((o) => o.trim())
          .filter(Boolean),
      ),
    STREAM_AUTH_SECRET: z.string().min(32, "STREAM_AUTH_SECRET must be at least 32 characters").optional(),
    DURABLE_STREAM_URL: z.string().url().default("http://localhost:8080"),
    /** Where the API itself reaches the stream server (the sweeper appends turn ends); DURABLE_STREAM_URL if unset. */
    DURABLE_STREAM_INTERNAL_URL: z
      .string()
      .url("DURABLE_STREAM_INTERNAL_URL must be an http(s) URL")
      .optional(),
    ELECTRIC_URL: z.string().url().default("http://localhost:3002"),
    ELECTRIC_SECRET: z.string().optional(),
    CLAIM_LEASE_MS: z.coerce
      .number({ error: "CLAIM_LEASE_MS must be a number of milliseconds" })
      .int()
      .min(1_000, "CLAIM_LEASE_MS must be at least 1000")
      .max(3_600_000, "CLAIM_LEASE_MS must be at most 3600000")
      .default(30_000),
    MAX_CLAIMS: z.coerce
      .number({ error: "MAX_CLAIMS must be a number" })
      .int()
      .min(1, "MAX_CLAIMS must be at least 1")
      .max(100, "MAX_CLAIMS must be at most 100")
      .default(3),
    STREAM_TOKEN_TTL_SECONDS: z.coerce
      .number({ error: "STREAM_TOKEN_TTL_SECONDS must be a number of seconds" })
      .int()
      .min(30, "STREAM_TOKEN_TTL_SECONDS must be at least 30")
      .max(86_400, "STREAM_TOKEN_TTL_SECONDS must be at most 86400")
      .default(900),
    LEASE_SWEEP_INTERVAL_MS: z.coerce
      .number({ error: "LEASE_SWEEP_INTERVAL_MS must be a number of milliseconds" })
      .int()
      .min(100, "LEASE_SWEEP_INTERVAL_MS must be at least 100")
      .default(5_000),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .transform((env, ctx) => {
    // Development may run on built-in secrets; production must be given its own.
    for (const key of ["BETTER_AUTH_SECRET", "STREAM_AUTH_SECRET"] as const) {
      if (!env[key] && env.NODE_ENV === "production") {
        ctx.addIssue({ code: "custom", path: [key], message: `${key} is required in production` });
      }
    }
    return {
      ...env,
      BETTER_AUTH_SECRET: env.BETTER_AUTH_SECRET ?? DEV_SECRET,
      STREAM_AUTH_SECRET: env.STREAM_AUTH_SECRET ?? `${DEV_SECRET}-stream`,
      DURABLE_STREAM_INTERNAL_URL: env.DURABLE_STREAM_INTERNAL_URL ?? env.DURABLE_STREAM_URL,
    };
  });

export type ApiEnv = z.infer<typeof schema>;

/** Validates an environment; throws one error naming every bad variable. */
export function parseApiEnv(source: Record<string, string | undefined>): ApiEnv {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid API environment:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

let cached: ApiEnv | undefined;

/** The API's environment, validated on first use; a bad value fails with the variable's name. */
export function apiEnv(): ApiEnv {
  cached ??= parseApiEnv(process.env);
  return cached;
}
