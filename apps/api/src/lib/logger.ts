import pino, { type Logger } from "pino";

export type { Logger };

/** The API's one logger: JSON lines; credentials are redacted wherever they appear. */
export function createLogger(level: string): Logger {
  return pino({
    name: "api",
    level,
    redact: {
      paths: [
        "authorization",
        "cookie",
        "headers.authorization",
        "headers.cookie",
        '["x-device-token"]',
        "token",
      ],
      censor: "[redacted]",
    },
  });
}
