import { initTRPC, TRPCError } from "@trpc/server";
import type { ApprovalBroker } from "../claude/approvals";
import { ClaudeCoreError, type ClaudeErrorCode } from "../claude/errors";
import type { ClaudeSessionManager } from "../claude/session-manager";

/** What the desktop's local procedures work with: the main process's singletons. */
export interface DesktopContext {
  sessions: ClaudeSessionManager;
  approvals: ApprovalBroker;
}

const t = initTRPC.context<DesktopContext>().create({ isServer: true });

const STATUS: Record<ClaudeErrorCode, TRPCError["code"]> = {
  session_not_found: "NOT_FOUND",
  invalid_input: "BAD_REQUEST",
  cwd_not_found: "BAD_REQUEST",
  turn_exists: "CONFLICT",
  manager_closed: "PRECONDITION_FAILED",
  download_failed: "INTERNAL_SERVER_ERROR",
  checksum_mismatch: "INTERNAL_SERVER_ERROR",
  unsupported_platform: "PRECONDITION_FAILED",
};

/** The one place where core errors become tRPC errors. */
const mapCoreErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof ClaudeCoreError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: STATUS[cause.code], message: cause.message, cause });
  }
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
/** Local IPC only (the renderer of this app): no user auth, the OS user owns the process. */
export const publicProcedure = t.procedure.use(mapCoreErrors);
