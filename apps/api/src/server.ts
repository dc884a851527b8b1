import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { apiEnv } from "./env";
import { closeDeps, getDeps, getLogger, getTrustedOrigins } from "./lib/deps";
import { handleElectric } from "./lib/electric-proxy";
import { createApiHandlers, type FetchHandler } from "./lib/handlers";
import { startSweeper } from "./lib/sweeper";

/**
 * The API without Next.js: the same fetch handlers (tRPC, auth, health and,
 * when the API has it, the Electric proxy) on a plain node:http server.
 * For end-to-end tests and headless runs: `PORT=3001 tsx apps/api/src/server.ts`.
 * Prints one JSON line `{"msg":"api listening","url":...}` once it accepts requests.
 */

const MAX_HEADER_VALUE = 8192;

/** node:http request → fetch Request (the body streams through, never buffered here). */
function toRequest(req: IncomingMessage, origin: string, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v.length <= MAX_HEADER_VALUE) headers.append(name, v);
    }
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(new URL(req.url ?? "/", origin), {
    method,
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: "half" } : {}),
  } as RequestInit);
}

/** fetch Response → node:http response, streamed (long-polls and SSE pass through). */
async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") return;
    headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  res.writeHead(response.status, response.statusText, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.once("close", () => reader.cancel().catch(() => {}));
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise((resolve) => res.once("drain", resolve));
    }
  } finally {
    res.end();
  }
}

/** Which handler serves a path; paths are normalised first (no `//` or `..` tricks). */
export function route(handlers: Record<string, FetchHandler | undefined>, pathname: string) {
  const path = pathname.replace(/\/{2,}/g, "/");
  if (path.split("/").includes("..")) return undefined;
  if (path === "/health" || path === "/api/health") return handlers.health;
  if (path.startsWith("/api/trpc/")) return handlers.trpc;
  if (path.startsWith("/api/auth/")) return handlers.auth;
  if (path.startsWith("/api/electric/")) return handlers.electric;
  return undefined;
}

export async function startApiServer(options: { port: number; host: string }) {
  const env = apiEnv();
  const logger = getLogger();
  const deps = getDeps();
  const handlers: Record<string, FetchHandler | undefined> = {
    ...createApiHandlers(deps, logger, getTrustedOrigins()),
    electric: handleElectric,
  };
  const sweeper = startSweeper({
    db: deps.db,
    maxClaims: env.MAX_CLAIMS,
    intervalMs: env.LEASE_SWEEP_INTERVAL_MS,
    logger,
  });
  const server = createServer((req, res) => {
    const origin = `http://${req.headers.host ?? "127.0.0.1"}`;
    const controller = new AbortController();
    res.once("close", () => controller.abort());
    const pathname = new URL(req.url ?? "/", "http://x").pathname;
    const handler = route(handlers, pathname);
    const respond = handler
      ? handler(toRequest(req, origin, controller.signal))
      : Promise.resolve(Response.json({ error: `Not found: ${pathname}` }, { status: 404 }));
    respond
      .then((response) => writeResponse(res, response))
      .catch((error: unknown) => {
        if (controller.signal.aborted) return;
        logger.error({ err: error, path: pathname }, "request failed");
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "Internal server error" }));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host === "0.0.0.0" ? "127.0.0.1" : options.host}:${port}`;
  return {
    url,
    port,
    hasElectricProxy: Boolean(handlers.electric),
    async stop() {
      sweeper.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await closeDeps();
    },
  };
}

async function main() {
  const port = Number(process.env.PORT ?? "3001");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT: expected an integer from 0 to 65535, got "${process.env.PORT}"`);
    process.exit(1);
  }
  let server: Awaited<ReturnType<typeof startApiServer>>;
  try {
    server = await startApiServer({ port, host: process.env.HOST ?? "127.0.0.1" });
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
  const logger = getLogger();
  logger.info(
    { url: server.url, port: server.port, electricProxy: server.hasElectricProxy },
    "api listening",
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
