import { type Auth, getAuthenticatedSession } from "@superset/auth";
import type { Database } from "@superset/db/client";
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { type ChatConfig, resolveChatConfig } from "./config";
import { ChatError, toTRPCError } from "./errors";
import { DEVICE_TOKEN_HEADER, findDeviceByToken } from "./queries/devices";

/** What the API process hands to every request's context. */
export interface ApiDeps {
  db: Database;
  auth: Auth;
  /** Signs the durable stream tokens (STREAM_AUTH_SECRET). */
  streamAuthSecret: string;
  /** Public URL of the durable stream server, returned with stream tokens. */
  streamUrl: string;
  /** Lease length, claim bound, stream token lifetime (defaults in config.ts). */
  chat?: Partial<ChatConfig>;
}

export async function createTRPCContext(opts: { headers: Headers; deps: ApiDeps }) {
  const { chat, ...deps } = opts.deps;
  const session = await getAuthenticatedSession(deps.auth, deps.db, opts.headers);
  return { ...deps, config: resolveChatConfig(chat), headers: opts.headers, session };
}
export type TRPCContext = Awaited<ReturnType<typeof createTRPCContext>>;

const t = initTRPC.context<TRPCContext>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    // Messages were made safe by toTRPCError; nothing else of the cause reaches the client.
    const details = error.cause instanceof ChatError ? (error.cause.details ?? null) : null;
    const { stack: _stack, ...data } = shape.data;
    return { ...shape, data: { ...data, details } };
  },
});

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;
export const middleware = t.middleware;

/** Every procedure's errors go through toTRPCError (input validation included). */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) throw toTRPCError(result.error);
  return result;
});

export const publicProcedure = t.procedure.use(mapErrors);

/**
 * A signed-in user with an active organization they are a member of. Every
 * query behind it is scoped to `ctx.organizationId`.
 */
export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.session) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in first" });
  if (!ctx.session.organizationId) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: "No active organization: join or select an organization first",
    });
  }
  return next({
    ctx: {
      ...ctx,
      user: ctx.session.user,
      organizationId: ctx.session.organizationId,
      memberRole: ctx.session.memberRole,
    },
  });
});

/**
 * A desktop host, identified by its device credential (header `x-device-token`).
 * A user's bearer may come along but is neither needed nor used.
 */
export const deviceProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const token = ctx.headers.get(DEVICE_TOKEN_HEADER);
  if (!token) {
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message: `Device credential required (${DEVICE_TOKEN_HEADER})`,
    });
  }
  const device = await findDeviceByToken(ctx.db, token);
  if (!device) throw new TRPCError({ code: "UNAUTHORIZED", message: "Unknown or revoked device credential" });
  return next({ ctx: { ...ctx, device } });
});
