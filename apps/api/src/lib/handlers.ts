import { appRouter, createTRPCContext } from "@superset/trpc";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getDeps } from "./deps";

/**
 * The API's request handlers as plain fetch functions: the Next.js route files
 * hand requests to them, and tests serve the same functions over real HTTP.
 */
export function handleTrpc(req: Request): Promise<Response> {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createTRPCContext({ headers: req.headers, deps: getDeps() }),
  });
}

export function handleAuth(req: Request): Promise<Response> {
  return getDeps().auth.handler(req);
}

export async function handleHealth(): Promise<Response> {
  try {
    await getDeps().db.$client.query("select 1");
    return Response.json({ status: "ok" });
  } catch {
    return Response.json({ status: "error", reason: "database unreachable" }, { status: 503 });
  }
}
