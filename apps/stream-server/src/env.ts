import { z } from "zod";
import { parseSigningKey } from "./subscriptions/signing";

/** The stream server's configuration, validated once; a bad value fails at start naming the variable. */
const schema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    HOST: z.string().min(1).default("0.0.0.0"),
    STREAM_STORAGE: z.enum(["memory", "file", "redis"]).default("file"),
    STREAM_DATA_DIR: z.string().min(1).default("./data/streams"),
    REDIS_URL: z.string().url().optional(),
    STREAM_LONG_POLL_TIMEOUT_MS: z.coerce.number().int().min(10).max(300_000).default(30_000),
    STREAM_SSE_MAX_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
    STREAM_MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1)
      .default(4 * 1024 * 1024),
    STREAM_AUTH: z.enum(["jwt", "none"]).default("jwt"),
    STREAM_AUTH_SECRET: z.string().min(32, "STREAM_AUTH_SECRET must be at least 32 characters").optional(),
    STREAM_JWKS_URL: z.string().url().optional(),
    STREAM_RATE_LIMIT_PER_SEC: z.coerce.number().positive().default(200),
    STREAM_RATE_LIMIT_BURST: z.coerce.number().int().positive().default(400),
    STREAM_PRESENCE_TTL_MS: z.coerce.number().int().min(100).default(30_000),
    STREAM_FSYNC: z.enum(["on", "off"]).default("on"),
    STREAM_SEGMENT_BYTES: z.coerce
      .number()
      .int()
      .min(4096)
      .default(64 * 1024 * 1024),
    STREAM_COMPACT_AFTER_SEGMENTS: z.coerce.number().int().min(0).default(4),
    STREAM_WEBHOOK_ALLOWED_HOSTS: z
      .string()
      .default("")
      .transform((value) =>
        value
          .split(",")
          .map((host) => host.trim())
          .filter(Boolean),
      ),
    STREAM_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    STREAM_SUBSCRIPTION_SWEEP_MS: z.coerce.number().int().min(10).max(60_000).default(250),
    STREAM_WEBHOOK_SIGNING_KEY: z
      .string()
      .optional()
      .transform((value, ctx) => {
        if (value === undefined || value.trim() === "") return undefined;
        try {
          return parseSigningKey(value.replaceAll("\\n", "\n"));
        } catch (error) {
          ctx.addIssue({ code: "custom", message: (error as Error).message });
          return z.NEVER;
        }
      }),
    STREAM_CALLBACK_TOKEN_SECRET: z
      .string()
      .min(32, "STREAM_CALLBACK_TOKEN_SECRET must be at least 32 characters")
      .optional(),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((env, ctx) => {
    if (env.STREAM_AUTH === "jwt" && !env.STREAM_AUTH_SECRET && !env.STREAM_JWKS_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["STREAM_AUTH_SECRET"],
        message:
          "set STREAM_AUTH_SECRET (or STREAM_JWKS_URL), or STREAM_AUTH=none to turn auth off explicitly",
      });
    }
    if (env.STREAM_STORAGE === "redis" && !env.REDIS_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["REDIS_URL"],
        message: "REDIS_URL is required with STREAM_STORAGE=redis",
      });
    }
  });

export type Env = z.infer<typeof schema>;

export class EnvError extends Error {}

export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = schema.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `${issue.path.join(".") || "env"}: ${issue.message}`);
  throw new EnvError(`invalid stream-server configuration:\n  ${lines.join("\n  ")}`);
}
