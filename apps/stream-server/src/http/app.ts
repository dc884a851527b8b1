import type { IncomingMessage, ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { StreamTokenVerifier } from "@superset/stream-tokens";
import { Hono } from "hono";
import type { Logger } from "pino";
import type { PresenceService } from "../presence/service";
import { CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, Q } from "../protocol/constants";
import { badRequest, StreamError } from "../protocol/errors";
import type { StreamEngine } from "../streams/engine";
import { isControlPath } from "../subscriptions/paths";
import { handleControl } from "../subscriptions/routes";
import { SubscriptionService, type SubscriptionSettings } from "../subscriptions/service";
import { WebhookUrlPolicy } from "../subscriptions/webhook-url";
import { authenticate, type Principal, requireRight, rightsFor, storagePath, targetOf } from "./auth";
import type { Metrics } from "./metrics";
import { presenceRoutes } from "./presence";
import type { RateLimiter } from "./rate-limit";
import { type ReadSettings, readResponse, streamSse } from "./read";
import { appendToStream, createStream, deleteStream, headStream, type WriteContext } from "./write";

export interface AppOptions {
  engine: StreamEngine;
  presence: PresenceService;
  /** Null turns auth off (STREAM_AUTH=none). */
  verify: StreamTokenVerifier | null;
  rateLimiter: RateLimiter | null;
  metrics: Metrics;
  logger: Logger;
  read: Omit<ReadSettings, "cacheControl">;
  maxBodyBytes: number;
  /** Aborted at shutdown: live readers end cleanly. */
  shutdown: AbortSignal;
  health: () => Promise<boolean>;
  /** Webhook and pull-wake subscriptions; by default no webhook host is allowed. */
  subscriptions?: SubscriptionSettings;
}

type Env = {
  Bindings: { incoming: IncomingMessage; outgoing: ServerResponse };
  Variables: { principal?: Principal };
};

export const MOUNT = "/streams";

export function createApp(options: AppOptions) {
  const { engine, metrics, logger } = options;
  const read: ReadSettings = {
    ...options.read,
    cacheControl: `${options.verify ? "private" : "public"}, max-age=60, stale-while-revalidate=300`,
  };
  const app = new Hono<Env>();
  let requestSeq = 0;
  options.shutdown.addEventListener("abort", () => engine.fanout.endAll(), { once: true });

  app.use("*", async (c, next) => {
    const started = performance.now();
    const requestId = c.req.header("x-request-id") ?? `r${(++requestSeq).toString(36)}`;
    c.header("x-request-id", requestId);
    await next();
    const headers = c.res.headers;
    const set = (name: string, value: string) => {
      if (!headers.has(name)) headers.set(name, value);
    };
    set("x-request-id", requestId);
    set("access-control-allow-origin", c.req.header("origin") ?? "*");
    set("access-control-allow-methods", "GET, POST, PUT, DELETE, HEAD, OPTIONS");
    set("access-control-allow-headers", CORS_ALLOW_HEADERS);
    set("access-control-expose-headers", CORS_EXPOSE_HEADERS);
    set("vary", "origin, authorization");
    set("x-content-type-options", "nosniff");
    set("cross-origin-resource-policy", "cross-origin");
    const live = c.req.query(Q.live);
    if (!live) {
      metrics.requestDuration.observe(
        { method: c.req.method, status: String(c.res.status) },
        (performance.now() - started) / 1000,
      );
    }
    if (c.res.status >= 500)
      logger.error({ requestId, method: c.req.method, status: c.res.status }, "request failed");
  });

  app.options("*", (c) => c.body(null, 204));
  app.get("/health", async (c) =>
    (await options.health()) ? c.json({ ok: true }) : c.json({ ok: false }, 503),
  );
  app.get("/metrics", async (c) =>
    c.text(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
  );

  const subscriptions = new SubscriptionService(
    engine,
    options.subscriptions ?? { policy: new WebhookUrlPolicy([]), webhookTimeoutMs: 10_000, sweepMs: 250 },
    logger,
    Date.now,
    {
      delivered: (ok) => metrics.webhookDeliveries.inc({ outcome: ok ? "ok" : "failed" }),
      wakeWritten: () => metrics.wakeEvents.inc(),
    },
  );
  metrics.subscriptionCount.read = () => subscriptions.count;
  options.shutdown.addEventListener("abort", () => subscriptions.stop(), { once: true });
  /** The reserved `__ds` namespace (subscription APIs) authorizes on its own, before the stream routes. */
  app.use(`${MOUNT}/*`, async (c, next) => {
    const url = new URL(c.req.url);
    const below = url.pathname.slice(MOUNT.length);
    if (!isControlPath(below)) return next();
    return handleControl(c.req.raw, below, {
      service: subscriptions,
      verify: options.verify,
      rateLimiter: options.rateLimiter,
      mountUrl: `${url.origin}${MOUNT}`,
    });
  });

  /** Authenticates, rate-limits, authorizes and maps the request path to a storage path. */
  app.use(`${MOUNT}/*`, async (c, next) => {
    const path = streamPathOf(new URL(c.req.url).pathname);
    if (options.verify) {
      const principal = await authenticate(options.verify, c.req.header("authorization") ?? null);
      options.rateLimiter?.take(principal.key);
      const target = targetOf(path);
      if (!target) throw new StreamError(403, "FORBIDDEN", "token does not cover this path");
      requireRight(principal, target, rightsFor(c.req.method, target));
      if (c.req.header("stream-forked-from") !== undefined) {
        throw new StreamError(403, "FORBIDDEN", "forks are not available to session tokens");
      }
      c.set("principal", principal);
    }
    await next();
  });

  app.route(MOUNT, presenceRoutes<Env>({ ...options, read }));

  app.on(["PUT", "POST", "GET", "HEAD", "DELETE"], `${MOUNT}/*`, async (c) => {
    const url = new URL(c.req.url);
    const publicPath = streamPathOf(url.pathname);
    const principal = c.get("principal");
    const path = storagePath(principal, publicPath);
    const ctx: WriteContext = {
      engine,
      path,
      request: c.req.raw,
      maxBodyBytes: options.maxBodyBytes,
      location: `${url.origin}${MOUNT}${publicPath}`,
      resolveForkSource: (value) => storagePath(principal, forkSourcePath(value)),
      onAppend: (bytes) => {
        metrics.appends.inc();
        metrics.appendBytes.inc(bytes);
      },
    };
    switch (c.req.method) {
      case "PUT":
        return createStream(ctx);
      case "POST":
        return appendToStream(ctx);
      case "HEAD":
        return headStream(ctx);
      case "DELETE":
        return deleteStream(ctx);
    }
    const request = {
      path,
      url,
      ifNoneMatch: c.req.header("if-none-match") ?? null,
      signal: options.shutdown,
    };
    if (url.searchParams.get(Q.live) === "sse") {
      await engine.get(path);
      await serveSse(
        c.env,
        request,
        (req, res, onOpen) => streamSse(engine, read, req, res, onOpen),
        metrics,
      );
      return RESPONSE_ALREADY_SENT;
    }
    if (url.searchParams.get(Q.live) === "long-poll") {
      metrics.liveConnections.inc({ mode: "long-poll" });
      try {
        return await readResponse(engine, read, {
          ...request,
          signal: c.req.raw.signal,
          shutdown: options.shutdown,
        });
      } finally {
        metrics.liveConnections.dec({ mode: "long-poll" });
      }
    }
    return readResponse(engine, read, request);
  });

  app.notFound((c) => c.json({ error: { code: "NOT_FOUND", message: "no such route" } }, 404));

  app.onError((error, c) => {
    if (error instanceof StreamError) {
      for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
      c.header("content-type", "text/plain; charset=utf-8");
      return c.req.method === "HEAD" ? c.body(null, error.status) : c.body(error.message, error.status);
    }
    logger.error({ err: error, method: c.req.method, path: new URL(c.req.url).pathname }, "unhandled error");
    return c.text("internal error", 500);
  });

  return app;
}

type SseRunner = (
  req: { path: string; url: URL; ifNoneMatch: string | null; signal: AbortSignal },
  res: ServerResponse,
  onOpen: () => () => void,
) => Promise<void>;

/** Serves an SSE response straight onto the Node response (no web-stream copy per subscriber). */
export async function serveSse(
  env: { incoming: IncomingMessage; outgoing: ServerResponse } | undefined,
  request: { path: string; url: URL; ifNoneMatch: string | null; signal: AbortSignal },
  run: SseRunner,
  metrics: Metrics,
): Promise<void> {
  if (!env?.outgoing) throw new StreamError(400, "BAD_REQUEST", "SSE needs a Node HTTP server");
  const res = env.outgoing;
  for (const [name, value] of Object.entries(corsHeadersFor(env.incoming))) res.setHeader(name, value);
  // The runner watches the response's own close; no signal is combined per connection.
  await run(request, res, () => {
    metrics.liveConnections.inc({ mode: "sse" });
    return () => metrics.liveConnections.dec({ mode: "sse" });
  });
}

function corsHeadersFor(incoming: IncomingMessage): Record<string, string> {
  const origin = incoming.headers.origin;
  return {
    "access-control-allow-origin": typeof origin === "string" ? origin : "*",
    "access-control-expose-headers": CORS_EXPOSE_HEADERS,
    vary: "origin, authorization",
    "x-content-type-options": "nosniff",
    "cross-origin-resource-policy": "cross-origin",
  };
}

const PLAIN_PATH = /^(?:\/[\w-]{1,256})+$/;

/** The stream path below the mount point; refuses empty, `.` and `..` segments (no traversal, no `//`). */
export function streamPathOf(pathname: string): string {
  const rest = pathname.slice(MOUNT.length);
  // Nearly every path is plain: nothing to decode, no dot segment to refuse.
  if (rest.length <= 1024 && PLAIN_PATH.test(rest)) return rest;
  if (!rest.startsWith("/") || rest.length < 2) throw badRequest("a stream path is required below /streams/");
  const segments = rest.slice(1).split("/");
  for (const segment of segments) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw badRequest("invalid stream path");
    }
    if (
      decoded === "" ||
      decoded === "." ||
      decoded === ".." ||
      decoded.includes("/") ||
      segment.length > 256
    ) {
      throw badRequest("invalid stream path");
    }
  }
  if (rest.length > 1024) throw badRequest("stream path too long");
  return rest;
}

function forkSourcePath(value: string): string {
  let path = value;
  if (/^https?:\/\//i.test(value)) path = new URL(value).pathname;
  if (path.startsWith(`${MOUNT}/`)) path = path.slice(MOUNT.length);
  if (!path.startsWith("/")) path = `/${path}`;
  return path;
}
