import { z } from "zod";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z.object({
  /** An idle session releases its Claude Code process after this many ms. */
  CLAUDE_IDLE_TIMEOUT_MS: positiveInt(10 * 60_000),
  /** At most this many Claude Code processes at once. */
  CLAUDE_MAX_PROCESSES: positiveInt(4),
  /** A tool permission request without an answer after this many ms is denied. */
  CLAUDE_APPROVAL_TIMEOUT_MS: positiveInt(60_000),
  /** Model name passed to Claude Code (default: Claude Code's own default). */
  CLAUDE_MODEL: z.string().trim().min(1).optional(),
  /** auto: the demo model answers only when no Claude credentials are found; force: always; off: never. */
  SUPERSET_CLAUDE_DEMO: z.enum(["auto", "force", "off"]).default("auto"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type DesktopEnv = z.infer<typeof schema>;

/** Reads and validates the desktop's environment once; a bad value fails naming the variable. */
export function loadDesktopEnv(source: NodeJS.ProcessEnv = process.env): DesktopEnv {
  const parsed = schema.safeParse(source);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
  throw new Error(`invalid desktop environment: ${problems}`);
}
