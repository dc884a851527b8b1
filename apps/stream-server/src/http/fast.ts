import type { IncomingMessage, ServerResponse } from "node:http";
import { CORS_EXPOSE_HEADERS, H, Q } from "../protocol/constants";
import { StreamError } from "../protocol/errors";
import type { AppendOptions, AppendResult, StreamEngine } from "../streams/engine";
import { isControlPath } from "../subscriptions/paths";
import type { AppOptions } from "./app";
import { MOUNT, streamPathOf } from "./app";
import { authenticate, requireRight, rightsFor, storagePath, targetOf } from "./auth";
import { collectNodeBody } from "./body";
import { nodeHeaders } from "./headers";
import type { Metrics } from "./metrics";
import { type ReadSettings, streamSse } from "./read";
import { answerAppend, parseAppend } from "./write";

/**
 * The two hot requests served straight on node:http: appends (POST) and SSE reads of a stream.
 * Behind Hono each cost a web Request, Headers, a body ReadableStream, an AbortSignal and a
 * middleware chain; here they parse Node's request directly, and throughput about doubles. They
 * keep the app's rules: same auth, rate limit, path checks, CORS and security headers, metrics,
 * error answers. Everything else (presence, the `__ds` subscription APIs, other methods and live
 * modes) goes to the Hono app.
 */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Security headers every answer carries. The CORS ones are added only when the request has an
 * Origin (a browser): other clients ignore them, and leaving 440 bytes off each append's answer
 * raises throughput by a sixth. Access-Control-Allow-Methods and -Headers only count on preflight
 * answers (OPTIONS, served by the app).
 */
const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "cross-origin-resource-policy": "cross-origin",
};

export function createFastPath(options: AppOptions, fallback: NodeListener): NodeListener {
  const { engine, metrics, logger, verify } = options;
  const read: ReadSettings = { ...options.read, cacheControl: "no-store" };
  let requestSeq = 0;

  /** The stream path below the mount point if this request is one of ours, else undefined. */
  const hotPath = (req: IncomingMessage): { pathname: string; query: string } | undefined => {
    const url = req.url ?? "";
    if (!url.startsWith(`${MOUNT}/`)) return undefined;
    const q = url.indexOf("?");
    const pathname = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? "" : url.slice(q + 1);
    if (req.method === "POST") {
      if (query !== "") return undefined;
    } else if (req.method !== "GET" || !/(^|&)live=sse(&|$)/.test(query)) return undefined;
    const below = pathname.slice(MOUNT.length);
    if (isControlPath(below) || /^\/[^/]+\/presence$/.test(below)) return undefined;
    return { pathname, query };
  };

  const headersFor = (req: IncomingMessage, requestId: string): Record<string, string> => {
    const origin = req.headers.origin;
    const headers: Record<string, string> = { ...SECURITY_HEADERS, "x-request-id": requestId };
    if (typeof origin === "string") {
      headers["access-control-allow-origin"] = origin;
      headers["access-control-expose-headers"] = CORS_EXPOSE_HEADERS;
      headers.vary = "origin, authorization";
    }
    return headers;
  };

  /** Authorizes like the app's middleware and returns the storage path. */
  const authorize = async (req: IncomingMessage, pathname: string): Promise<string> => {
    const path = streamPathOf(pathname);
    if (!verify) return path;
    const header = req.headers.authorization;
    const principal = await authenticate(verify, typeof header === "string" ? header : null);
    options.rateLimiter?.take(principal.key);
    const target = targetOf(path);
    if (!target) throw new StreamError(403, "FORBIDDEN", "token does not cover this path");
    requireRight(principal, target, rightsFor(req.method as string, target));
    if (req.headers[H.forkedFrom.toLowerCase()] !== undefined) {
      throw new StreamError(403, "FORBIDDEN", "forks are not available to session tokens");
    }
    return storagePath(principal, path);
  };

  const fail = (
    req: IncomingMessage,
    res: ServerResponse,
    common: Record<string, string>,
    error: unknown,
  ) => {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (error instanceof StreamError) {
      const close = error.status === 413 ? { connection: "close" } : {};
      res.writeHead(error.status, {
        ...common,
        ...error.headers,
        ...close,
        "content-type": "text/plain; charset=utf-8",
      });
      res.end(error.message);
      return;
    }
    logger.error({ err: error, requestId: common["x-request-id"], method: req.method }, "unhandled error");
    res.writeHead(500, { ...common, "content-type": "text/plain; charset=utf-8" });
    res.end("internal error");
  };

  const appendSettings: AppendSettings = { engine, metrics, maxBodyBytes: options.maxBodyBytes, fail };

  /**
   * An append answered in the tick its body ends when the engine can commit at once (memory; file
   * then waits only for its fsync); otherwise through the engine's queue.
   */
  const append = (req: IncomingMessage, res: ServerResponse, pathname: string) => {
    const incomingId = req.headers["x-request-id"];
    const exchange = new AppendExchange(
      appendSettings,
      req,
      res,
      headersFor(req, typeof incomingId === "string" ? incomingId : `f${(++requestSeq).toString(36)}`),
    );
    if (verify) {
      authorize(req, pathname).then(
        (path) => exchange.start(path),
        (error) => exchange.fail(error),
      );
      return;
    }
    try {
      exchange.start(streamPathOf(pathname));
    } catch (error) {
      exchange.fail(error);
    }
  };

  const sse = async (req: IncomingMessage, res: ServerResponse, pathname: string, query: string) => {
    const incomingId = req.headers["x-request-id"];
    const common = headersFor(
      req,
      typeof incomingId === "string" ? incomingId : `f${(++requestSeq).toString(36)}`,
    );
    try {
      const path = await authorize(req, pathname);
      req.resume();
      for (const [name, value] of Object.entries(common)) res.setHeader(name, value);
      const url = new URL(`http://stream${pathname}?${query}`);
      if (url.searchParams.get(Q.live) !== "sse") throw new StreamError(400, "BAD_REQUEST", "bad live mode");
      await streamSse(engine, read, { path, url, ifNoneMatch: null, signal: options.shutdown }, res, () => {
        metrics.liveConnections.inc({ mode: "sse" });
        return () => metrics.liveConnections.dec({ mode: "sse" });
      });
    } catch (error) {
      fail(req, res, common, error);
    }
  };

  return (req, res) => {
    const hot = hotPath(req);
    if (!hot) return fallback(req, res);
    if (req.method === "POST") append(req, res, hot.pathname);
    else void sse(req, res, hot.pathname, hot.query);
  };
}

interface AppendSettings {
  engine: StreamEngine;
  metrics: Metrics;
  maxBodyBytes: number;
  fail: (req: IncomingMessage, res: ServerResponse, common: Record<string, string>, error: unknown) => void;
}

/**
 * One append on the fast path. A class rather than closures: nothing is allocated per request
 * beyond this object and its body (the dev runner names every closure it creates, at a cost).
 */
class AppendExchange {
  private readonly started = performance.now();
  private path = "";

  constructor(
    private readonly settings: AppendSettings,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly common: Record<string, string>,
  ) {}

  start(path: string): void {
    this.path = path;
    collectNodeBody(this.req, this.settings.maxBodyBytes, this);
  }

  /** Called once with the whole body (`BodySink`). */
  body(error: Error | undefined, data: Buffer): void {
    if (error) {
      this.fail(error);
      return;
    }
    try {
      const options = parseAppend(nodeHeaders(this.req.headers), data);
      const { engine } = this.settings;
      const now = engine.tryAppendNow(this.path, data, options);
      if (now && now.durable === undefined) {
        this.answer(options, now.result, data);
        return;
      }
      const later = now?.durable
        ? now.durable.then(() => now.result)
        : engine.append(this.path, data, options);
      later.then((result) => this.answer(options, result, data)).catch((caught) => this.fail(caught));
    } catch (caught) {
      this.fail(caught);
    }
  }

  fail(error: unknown): void {
    this.settings.fail(this.req, this.res, this.common, error);
    this.observe(error instanceof StreamError ? error.status : 500);
  }

  private answer(options: AppendOptions, result: AppendResult, data: Buffer): void {
    const { metrics } = this.settings;
    if (result.kind === "appended" && data.byteLength > 0) {
      metrics.appends.inc();
      metrics.appendBytes.inc(data.byteLength);
    }
    const { status, headers } = answerAppend(options, result, data.byteLength);
    for (const name in headers) this.common[name] = headers[name] as string;
    this.res.writeHead(status, this.common);
    this.res.end();
    this.observe(status);
  }

  private observe(status: number): void {
    this.settings.metrics.requestDuration.observe(
      { method: "POST", status: String(status) },
      (performance.now() - this.started) / 1000,
    );
  }
}
