import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0", ""])
  .default("false")
  .transform((v) => v === "true" || v === "1");

const schema = z
  .object({
    DATABASE_URL: z.string().url("DATABASE_URL must be a postgres:// URL"),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    ELECTRIC_SECRET: z.string().min(1).optional(),
    ELECTRIC_INSECURE: bool,
    SYNC_DATA_DIR: z.string().min(1).default("./.sync-data"),
    ELECTRIC_REPLICATION_STREAM_ID: z
      .string()
      .regex(/^[a-z0-9_]{1,40}$/, "ELECTRIC_REPLICATION_STREAM_ID must be 1-40 of a-z, 0-9, _")
      .default("default"),
    ELECTRIC_LONG_POLL_TIMEOUT: z.coerce.number().int().min(100).max(300_000).default(20_000),
    SSE_TIMEOUT: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((env, ctx) => {
    if (!env.ELECTRIC_SECRET && !env.ELECTRIC_INSECURE) {
      ctx.addIssue({
        code: "custom",
        path: ["ELECTRIC_SECRET"],
        message: "ELECTRIC_SECRET is required (or set ELECTRIC_INSECURE=true to run without authentication)",
      });
    }
  });

export type SyncEnv = z.infer<typeof schema>;

/** Validates the environment once; a bad value fails naming the variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): SyncEnv {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid sync-service environment:\n${lines.join("\n")}`);
  }
  return parsed.data;
}
