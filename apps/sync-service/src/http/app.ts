import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import type { Logger } from "pino";
import {
  CACHE_CONTROL,
  CURSOR_INTERVAL_SECONDS,
  EXPOSED_HEADERS,
  HEADER,
  HEALTH_PATH,
  QUERY,
  SHAPE_PATH,
} from "../protocol/constants";
import { badRequest, SyncError } from "../protocol/errors";
import { mustRefetchMessage, schemaHeader, upToDateMessage } from "../protocol/messages";
import {
  BEFORE_ALL,
  compareOffsets,
  formatOffset,
  type Offset,
  parseOffset,
  SNAPSHOT_END,
} from "../protocol/offset";
import { definitionKey, parseColumns, parseTableName, type ShapeDefinition } from "../shapes/definition";
import type { ShapeEngine } from "../shapes/engine";
import type { ReadChunk, Shape } from "../shapes/shape";

export interface AppOptions {
  engine: ShapeEngine;
  /** null: no authentication (ELECTRIC_INSECURE=true). */
  secret: string | null;
  longPollTimeoutMs: number;
  sseTimeoutMs: number;
  logger: Logger;
  /** Approximate body size of one response chunk. */
  chunkBytes?: number;
}

type Vars = { Variables: { log: Logger } };

const digest = (value: string) => createHash("sha256").update(value).digest();
const MAX_PARAMS = 100;

function parseParams(search: URLSearchParams): string[] {
  const params: string[] = [];
  for (const [name, value] of search) {
    const match = /^params\[(\d{1,3})\]$/.exec(name);
    if (!match) continue;
    const index = Number(match[1]);
    if (index < 1 || index > MAX_PARAMS)
      throw badRequest(`params[${index}] is out of range 1..${MAX_PARAMS}`);
    params[index - 1] = value;
  }
  for (let i = 0; i < params.length; i++) {
    if (params[i] === undefined) throw badRequest(`params[${i + 1}] is missing`);
  }
  return params;
}

function parseDefinition(search: URLSearchParams): ShapeDefinition {
  const table = search.get(QUERY.table);
  if (!table) throw badRequest("table is required");
  const replica = search.get(QUERY.replica) ?? "default";
  if (replica !== "default" && replica !== "full") throw badRequest("replica must be default or full");
  const log = search.get(QUERY.log) ?? "full";
  if (log !== "full" && log !== "changes_only") throw badRequest("log must be full or changes_only");
  const where = search.get(QUERY.where);
  const columns = search.get(QUERY.columns);
  return {
    ...parseTableName(table),
    where: where === null || where.trim() === "" ? null : where,
    params: parseParams(search),
    columns: columns === null ? null : parseColumns(columns),
    replica,
    log,
  };
}

function nextCursor(clientCursor: string | null): string {
  const cursor = Math.floor(Date.now() / 1000 / CURSOR_INTERVAL_SECONDS);
  // Never hand the same cursor back: a CDN would serve the cached response again.
  return String(clientCursor !== null && String(cursor) === clientCursor ? cursor + 1 : cursor);
}

export function createApp(options: AppOptions): Hono<Vars> {
  const { engine, logger } = options;
  const chunkBytes = options.chunkBytes ?? 10 * 1024 * 1024;
  const secretDigest = options.secret === null ? null : digest(options.secret);
  const app = new Hono<Vars>();

  app.use("*", async (c, next) => {
    const requestId = c.req.header("x-request-id") ?? randomUUID();
    const log = logger.child({ requestId });
    c.set("log", log);
    const started = performance.now();
    await next();
    c.header("access-control-allow-origin", "*");
    c.header("access-control-expose-headers", EXPOSED_HEADERS.join(", "));
    c.header("x-request-id", requestId);
    log.debug(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      "request",
    );
  });

  app.onError((error, c) => {
    if (error instanceof SyncError) {
      return c.json({ message: error.message, code: error.code }, error.status, {
        "cache-control": CACHE_CONTROL.noStore,
      });
    }
    c.get("log").error({ err: error }, "request failed");
    return c.json({ message: "internal error" }, 500, { "cache-control": CACHE_CONTROL.noStore });
  });

  app.options("*", (c) =>
    c.body(null, 204, {
      "access-control-allow-methods": "GET, HEAD, DELETE, OPTIONS",
      "access-control-allow-headers": "*",
      "access-control-max-age": "86400",
    }),
  );

  // Electric answers 200 {"status":"active"} once replicating, 202 {"status":"starting"} before.
  const health = (c: { json: (body: unknown, status: 200 | 202) => Response }) =>
    engine.status === "active" ? c.json({ status: "active" }, 200) : c.json({ status: "starting" }, 202);
  app.get(HEALTH_PATH, (c) => health(c));
  app.get("/health", (c) => health(c));

  app.use(SHAPE_PATH, async (c, next) => {
    if (secretDigest === null || c.req.method === "OPTIONS") return next();
    const given = c.req.query(QUERY.secret) ?? c.req.query(QUERY.legacySecret);
    if (!given || !timingSafeEqual(digest(given), secretDigest)) {
      throw new SyncError(401, "unauthorized", "a valid secret is required");
    }
    return next();
  });

  app.delete(SHAPE_PATH, async (c) => {
    const search = new URL(c.req.url).searchParams;
    const handle = search.get(QUERY.handle);
    let shape: Shape | undefined;
    if (handle) shape = engine.getShape(handle);
    else {
      const def = parseDefinition(search);
      shape = engine.findShape(def);
    }
    if (shape) engine.delete(shape);
    return c.body(null, 202);
  });

  app.get(SHAPE_PATH, async (c) => {
    const search = new URL(c.req.url).searchParams;
    const def = parseDefinition(search);
    const offsetText = search.get(QUERY.offset);
    if (offsetText === null) throw badRequest("offset is required");
    const live = search.get(QUERY.live) === "true";
    const sse =
      live && (search.get(QUERY.liveSse) === "true" || search.get(QUERY.experimentalLiveSse) === "true");
    const handle = search.get(QUERY.handle);
    const clientCursor = search.get(QUERY.cursor);

    const mustRefetch = (newHandle: string) =>
      c.body(`[${mustRefetchMessage()}]`, 409, {
        [HEADER.handle]: newHandle,
        "content-type": "application/json",
        "cache-control": CACHE_CONTROL.mustRefetch,
      });

    let shape: Shape;
    let after: Offset;
    if (offsetText === "-1" || offsetText === "now") {
      shape = await engine.resolve(def);
      if (handle && handle !== shape.handle) return mustRefetch(shape.handle);
      after = offsetText === "now" ? shape.tail() : BEFORE_ALL;
    } else {
      after = parseOffset(offsetText);
      if (!handle) throw badRequest("handle is required when offset is not -1 or now");
      const existing = engine.getShape(handle);
      if (!existing) return mustRefetch((await engine.resolve(def)).handle);
      // The definition changed under the same handle (a proxy's scope moved, e.g. the user
      // joined a session): the client must drop what it has and refetch the new shape.
      if (definitionKey(existing.definition) !== definitionKey(def)) {
        return mustRefetch((await engine.resolve(def)).handle);
      }
      shape = existing;
    }

    const headers: Record<string, string> = {
      [HEADER.handle]: shape.handle,
      [HEADER.schema]: schemaHeader(shape.view),
    };
    if (live) headers[HEADER.cursor] = nextCursor(clientCursor);

    if (sse) return serveSse(c.req.raw.signal, shape, after, headers);

    let chunk: ReadChunk =
      offsetText === "now" ? { messages: [], last: after, upToDate: true } : shape.read(after, chunkBytes);
    if (live && chunk.messages.length === 0) {
      const result = await shape.waitForChange(options.longPollTimeoutMs, c.req.raw.signal);
      // A client that has gone away must not make the service rebuild a deleted shape for nobody.
      if (result === "aborted" || c.req.raw.signal.aborted) return c.body(null, 499 as never);
      if (result === "deleted") return mustRefetch((await engine.resolve(def)).handle);
      if (result === "changed") chunk = shape.read(after, chunkBytes);
    }
    const messages = chunk.upToDate ? [...chunk.messages, upToDateMessage()] : chunk.messages;
    headers[HEADER.offset] = formatOffset(chunk.last);
    if (chunk.upToDate) headers[HEADER.upToDate] = "";
    headers["cache-control"] = live ? CACHE_CONTROL.live : CACHE_CONTROL.nonLive;
    headers.etag = `"${shape.handle}:${offsetText}:${formatOffset(chunk.last)}"`;
    headers["content-type"] = "application/json";
    return c.body(`[${messages.join(",")}]`, 200, headers);
  });

  /** `global_last_seen_lsn` such that `${lsn}_0` is after everything sent and before anything to come. */
  const lastSeenFor = (shape: Shape): string => {
    const tail = shape.tail();
    const floor = compareOffsets(tail, SNAPSHOT_END) > 0 ? tail.tx + 1n : 0n;
    const seen = engine.lastSeenLsn;
    return String(seen > floor ? seen : floor);
  };

  function serveSse(
    signal: AbortSignal,
    shape: Shape,
    from: Offset,
    headers: Record<string, string>,
  ): Response {
    const encoder = new TextEncoder();
    const deadline = Date.now() + options.sseTimeoutMs;
    const closed = new AbortController();
    signal.addEventListener("abort", () => closed.abort());
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        let position = from;
        try {
          while (!closed.signal.aborted) {
            const chunk = shape.read(position, chunkBytes);
            let text = "";
            for (const message of chunk.messages) text += `data: ${message}\n\n`;
            position = chunk.last;
            if (chunk.upToDate) text += `data: ${upToDateMessage(lastSeenFor(shape))}\n\n`;
            controller.enqueue(encoder.encode(text));
            if (!chunk.upToDate) continue;
            const remaining = deadline - Date.now();
            if (remaining <= 0) break;
            const result = await shape.waitForChange(remaining, closed.signal);
            if (result !== "changed") break;
          }
        } catch (error) {
          logger.warn({ err: error, handle: shape.handle }, "sse stream failed");
        }
        try {
          controller.close();
        } catch {
          // already closed by the client
        }
      },
      cancel() {
        closed.abort();
      },
    });
    return new Response(body, {
      status: 200,
      headers: {
        ...headers,
        [HEADER.offset]: formatOffset(from),
        "content-type": "text/event-stream",
        "cache-control": CACHE_CONTROL.sse,
        "access-control-allow-origin": "*",
        "access-control-expose-headers": EXPOSED_HEADERS.join(", "),
      },
    });
  }

  return app;
}
