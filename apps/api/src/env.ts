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
    ELECTRIC_URL: z.string().url().default("http://localhost:3002"),
    ELECTRIC_SECRET: z.string().optional(),
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
    };
  });

export type ApiEnv = z.infer<typeof schema>;

let cached: ApiEnv | undefined;

/** The API's environment, validated on first use; a bad value fails with the variable's name. */
export function apiEnv(): ApiEnv {
  if (!cached) {
    const parsed = schema.safeParse(process.env);
    if (!parsed.success) {
      const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
      throw new Error(`Invalid API environment:\n${lines.join("\n")}`);
    }
    cached = parsed.data;
  }
  return cached;
}
