import { TRPCError } from "@trpc/server";
import { ZodError } from "zod";

/** The tRPC codes a chat failure can carry (each maps to one HTTP status in tRPC). */
export type ChatErrorCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "PRECONDITION_FAILED";

/**
 * The one error the chat queries throw: a code and a message meant for the
 * user. Anything else that escapes a procedure is an internal error whose
 * details stay in the server log.
 */
export class ChatError extends Error {
  constructor(
    readonly code: ChatErrorCode,
    message: string,
    /** Structured facts for the client (e.g. who answered an approval first). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ChatError";
  }
}

export const notFound = (what: string) => new ChatError("NOT_FOUND", `${what} not found`);

/** Postgres error codes (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
const PG_UNIQUE_VIOLATION = "23505";
const PG_FOREIGN_KEY_VIOLATION = "23503";
const PG_CHECK_VIOLATION = "23514";
const PG_INVALID_TEXT = "22P02";

/** The Postgres error behind a driver or drizzle error, if any. */
function pgCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function describeZodError(error: ZodError): string {
  const lines = error.issues.map((issue) =>
    issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message,
  );
  return `Invalid input: ${lines.join("; ")}`;
}

/**
 * The single place where failures become tRPC errors. Database details never
 * reach the message; the original error stays as `cause` for the server log.
 */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) {
    if (error.cause instanceof ZodError) {
      return new TRPCError({ code: error.code, message: describeZodError(error.cause), cause: error.cause });
    }
    if (error.cause instanceof ChatError) return toTRPCError(error.cause);
    if (error.code !== "INTERNAL_SERVER_ERROR" || !error.cause) return error;
    return toTRPCError(error.cause);
  }
  if (error instanceof ChatError) {
    return new TRPCError({ code: error.code, message: error.message, cause: error });
  }
  if (error instanceof ZodError) {
    return new TRPCError({ code: "BAD_REQUEST", message: describeZodError(error), cause: error });
  }
  switch (pgCode(error)) {
    case PG_UNIQUE_VIOLATION:
      return new TRPCError({ code: "CONFLICT", message: "This record already exists", cause: error });
    case PG_FOREIGN_KEY_VIOLATION:
      return new TRPCError({
        code: "BAD_REQUEST",
        message: "A referenced record does not exist",
        cause: error,
      });
    case PG_CHECK_VIOLATION:
    case PG_INVALID_TEXT:
      return new TRPCError({ code: "BAD_REQUEST", message: "A value is out of range", cause: error });
  }
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "Internal server error", cause: error });
}
