import pino, { type Logger } from "pino";

export type { Logger };

/** Paths that may carry secrets: pino replaces them before anything is written. */
export const REDACT_PATHS = [
  "env.ANTHROPIC_API_KEY",
  "env.CLAUDE_CODE_OAUTH_TOKEN",
  "env.ANTHROPIC_AUTH_TOKEN",
  "*.ANTHROPIC_API_KEY",
  "*.CLAUDE_CODE_OAUTH_TOKEN",
  "*.ANTHROPIC_AUTH_TOKEN",
  "apiKey",
  "accessToken",
  "token",
  "*.apiKey",
  "*.accessToken",
  "*.token",
];

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      name: "desktop-claude",
      level: options.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    },
    options.destination,
  );
}
