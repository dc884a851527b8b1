import { z } from "zod";

/** The headless host's environment, validated once; flags of the same meaning take precedence. */
const schema = z.object({
  SUPERSET_API_URL: z.string().url("SUPERSET_API_URL must be a URL").default("http://localhost:3001"),
  SUPERSET_BEARER: z.string().min(1).optional(),
  SUPERSET_EMAIL: z.string().email("SUPERSET_EMAIL must be an email address").optional(),
  SUPERSET_PASSWORD: z.string().min(1).optional(),
  SUPERSET_DEVICE_TOKEN: z.string().min(1).optional(),
  /** A file that keeps the device token between runs (written with mode 600 after registering). */
  SUPERSET_DEVICE_TOKEN_FILE: z.string().min(1).optional(),
  /**
   * Where the host lists its Claude Code processes, so that the next start stops those a crash left
   * running (default: `claude-processes.json` beside the device token file, when there is one).
   */
  SUPERSET_CLAUDE_PROCESSES_FILE: z.string().min(1).optional(),
  SUPERSET_DEVICE_NAME: z.string().min(1).max(200).optional(),
  /** `id=path` pairs separated by commas. */
  SUPERSET_WORKSPACES: z.string().optional(),
  /** The API's Electric proxy endpoint when it is not `<api>/api/electric/v1/shape` (called with the bearer). */
  SUPERSET_SHAPE_URL: z.string().url("SUPERSET_SHAPE_URL must be a URL").optional(),
  SUPERSET_STREAM_URL: z.string().url("SUPERSET_STREAM_URL must be a URL").optional(),
  SUPERSET_LEASE_MS: z.coerce
    .number()
    .int()
    .min(1_000, "SUPERSET_LEASE_MS must be at least 1000")
    .default(30_000),
  SUPERSET_POLL_MS: z.coerce.number().int().min(100, "SUPERSET_POLL_MS must be at least 100").default(5_000),
  SUPERSET_APPROVAL_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1_000, "SUPERSET_APPROVAL_TIMEOUT_MS must be at least 1000")
    .default(60_000),
  CLAUDE_MODEL_BASE_URL: z.string().url("CLAUDE_MODEL_BASE_URL must be a URL").optional(),
  CLAUDE_CONFIG_DIR: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("warn"),
});

export type HostEnv = z.infer<typeof schema>;

export function parseHostEnv(source: Record<string, string | undefined>): HostEnv {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid host environment:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/** `ws1=/path/a,ws2=/path/b` (or repeated `--workspace id=path`) → { ws1: "/path/a", ... }. */
export function parseWorkspaces(pairs: string[]): Record<string, string> {
  const workspaces: Record<string, string> = {};
  for (const pair of pairs.flatMap((p) => p.split(",")).filter((p) => p.trim())) {
    const at = pair.indexOf("=");
    if (at <= 0 || at === pair.length - 1) {
      throw new Error(`workspace "${pair}": expected id=/absolute/path`);
    }
    workspaces[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return workspaces;
}
