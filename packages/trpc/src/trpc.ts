import { type Auth, getAuthenticatedSession } from "@superset/auth";
import type { Database } from "@superset/db/client";
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";

/** What the API process hands to every request's context. */
export interface ApiDeps {
  db: Database;
  auth: Auth;
  /** Signs the durable stream tokens (STREAM_AUTH_SECRET). */
  streamAuthSecret: string;
  /** Public URL of the durable stream server, returned with stream tokens. */
  streamUrl: string;
}

export async function createTRPCContext(opts: { headers: Headers; deps: ApiDeps }) {
  const session = await getAuthenticatedSession(opts.deps.auth, opts.deps.db, opts.headers);
  return { ...opts.deps, headers: opts.headers, session };
}
export type TRPCContext = Awaited<ReturnType<typeof createTRPCContext>>;

const t = initTRPC.context<TRPCContext>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    // Validation errors carry their field messages; nothing else of the cause reaches the client.
    const zodError = error.cause instanceof ZodError ? error.cause.flatten() : null;
    return { ...shape, data: { ...shape.data, stack: undefined, zodError } };
  },
});

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;
export const middleware = t.middleware;
export const publicProcedure = t.procedure;

/**
 * A signed-in user with an active organization they are a member of. Every
 * query behind it is scoped to `ctx.organizationId`.
 */
export const protectedProcedure = t.procedure.use(({ ctx, next }) => {
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
