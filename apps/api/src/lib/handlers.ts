import { randomUUID } from "node:crypto";
import { type ApiDeps, appRouter, createTRPCContext } from "@superset/trpc";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { BodyTooLargeError, withBodyLimit } from "./body-limit";
import { corsHeaders, withHeaders } from "./cors";
import { getDeps, getLogger, getTrustedOrigins } from "./deps";
import type { Logger } from "./logger";

export type FetchHandler = (req: Request) => Promise<Response>;

export interface ApiHandlers {
  trpc: FetchHandler;
  auth: FetchHandler;
  health: FetchHandler;
}

/**
 * The API's request handlers as plain fetch functions over explicit
 * dependencies: the Next.js route files hand requests to the process-wide
 * set below, and tests serve a set of their own over real HTTP.
 */
export function createApiHandlers(
  deps: ApiDeps,
  logger: Logger,
  trustedOrigins: readonly string[],
): ApiHandlers {
  /** Request id, CORS, one log line per request. */
  const wrap =
    (name: string, handle: (req: Request, log: Logger) => Promise<Response>): FetchHandler =>
    async (req) => {
      const requestId = req.headers.get("x-request-id")?.slice(0, 100) || randomUUID();
      const log = logger.child({ requestId, handler: name });
      const cors = corsHeaders(req, trustedOrigins);
      if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: cors });
      const started = performance.now();
      let res: Response;
      try {
        res = await handle(req, log);
      } catch (error) {
        log.error({ err: error }, "unhandled error");
        res = Response.json({ error: "Internal server error" }, { status: 500 });
      }
      const path = new URL(req.url).pathname;
      log.info(
        { method: req.method, path, status: res.status, ms: Math.round(performance.now() - started) },
        "request",
      );
      return withHeaders(res, { ...cors, "x-request-id": requestId });
    };

  return {
    trpc: wrap("trpc", async (rawReq, log) => {
      let req: Request;
      try {
        req = await withBodyLimit(rawReq);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        return Response.json(
          { error: { message: error.message, code: "PAYLOAD_TOO_LARGE" } },
          { status: 413 },
        );
      }
      return fetchRequestHandler({
        endpoint: "/api/trpc",
        req,
        router: appRouter,
        createContext: () => createTRPCContext({ headers: req.headers, deps }),
        onError({ error, path }) {
          // Expected failures (4xx) are the client's business; internal ones keep their cause here only.
          if (error.code === "INTERNAL_SERVER_ERROR")
            log.error({ err: error.cause ?? error, path }, "procedure failed");
          else log.debug({ code: error.code, path, message: error.message }, "procedure refused");
        },
      });
    }),
    auth: wrap("auth", (req) => deps.auth.handler(req)),
    health: wrap("health", async () => {
      try {
        await deps.db.$client.query("select 1");
        return Response.json({ status: "ok" });
      } catch {
        return Response.json({ status: "error", reason: "database unreachable" }, { status: 503 });
      }
    }),
  };
}

let handlers: ApiHandlers | undefined;

function processHandlers(): ApiHandlers {
  handlers ??= createApiHandlers(getDeps(), getLogger(), getTrustedOrigins());
  return handlers;
}

export const handleTrpc: FetchHandler = (req) => processHandlers().trpc(req);
export const handleAuth: FetchHandler = (req) => processHandlers().auth(req);
export const handleHealth: FetchHandler = (req) => processHandlers().health(req);
