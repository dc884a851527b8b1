import type { IncomingMessage, ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { Hono } from "hono";
import { z } from "zod";
import { PRESENCE_STATUSES, type PresenceService } from "../presence/service";
import { H, Q, START_OFFSET } from "../protocol/constants";
import { badRequest } from "../protocol/errors";
import { sseEvent } from "../protocol/sse";
import type { StreamEngine } from "../streams/engine";
import type { Principal } from "./auth";
import { storagePath } from "./auth";
import { readBody } from "./body";
import type { Metrics } from "./metrics";
import { parseReadQuery, type ReadSettings, readResponse, streamSse } from "./read";

/** `POST|GET|DELETE /streams/:sessionId/presence` (plan, Phase 5), served as a State Protocol stream. */
const presenceBody = z.object({
  userId: z.string().min(1).max(200).optional(),
  name: z.string().min(1).max(200).optional(),
  deviceId: z.string().min(1).max(200).optional(),
  status: z.enum(PRESENCE_STATUSES),
});

interface PresenceRouteOptions {
  engine: StreamEngine;
  presence: PresenceService;
  metrics: Metrics;
  read: ReadSettings;
  shutdown: AbortSignal;
}

type Env = {
  Bindings: { incoming: IncomingMessage; outgoing: ServerResponse };
  Variables: { principal?: Principal };
};

export function presenceRoutes<E extends Env>(options: PresenceRouteOptions) {
  const { engine, presence, read } = options;
  const routes = new Hono<E>();

  routes.post("/:sessionId/presence", async (c) => {
    const principal = c.get("principal");
    const raw = await readBody(c.req.raw, 16 * 1024);
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(raw).toString("utf8"));
    } catch {
      throw badRequest("presence body must be JSON");
    }
    const parsed = presenceBody.safeParse(json);
    if (!parsed.success)
      throw badRequest(`invalid presence: ${parsed.error.issues[0]?.message ?? "bad body"}`);
    const body = parsed.data;
    const userId = principal?.claims.userId ?? body.userId;
    if (!userId) throw badRequest("userId is required when auth is off");
    const logPath = storagePath(principal, `/${c.req.param("sessionId")}/presence`);
    const { offset } = await presence.upsert(logPath, {
      userId,
      name: principal?.claims.name ?? body.name ?? userId,
      deviceId: principal?.claims.deviceId ?? body.deviceId ?? "web",
      status: body.status,
    });
    return c.body(null, 204, { [H.nextOffset]: offset });
  });

  routes.delete("/:sessionId/presence", async (c) => {
    const principal = c.get("principal");
    const userId = principal?.claims.userId ?? c.req.query("userId");
    if (!userId) throw badRequest("userId is required when auth is off");
    const deviceId = principal?.claims.deviceId ?? c.req.query("deviceId") ?? "web";
    await presence.leave(storagePath(principal, `/${c.req.param("sessionId")}/presence`), userId, deviceId);
    return c.body(null, 204);
  });

  routes.get("/:sessionId/presence", async (c) => {
    const principal = c.get("principal");
    const logPath = storagePath(principal, `/${c.req.param("sessionId")}/presence`);
    const url = new URL(c.req.url);
    const { offset, live } = parseReadQuery(url);
    const fromStart = offset === undefined || offset === START_OFFSET;
    await presence.ensureLog(logPath);
    const request = {
      path: logPath,
      url,
      ifNoneMatch: c.req.header("if-none-match") ?? null,
      signal: options.shutdown,
    };
    if (live === "sse") {
      const snapshot = fromStart ? await presence.snapshot(logPath) : undefined;
      if (snapshot) url.searchParams.set(Q.offset, snapshot.offset);
      const res = c.env?.outgoing;
      if (!res) throw badRequest("SSE needs a Node HTTP server");
      const prelude = snapshot ? sseEvent("data", JSON.stringify(snapshot.events)) : "";
      await streamSse(
        engine,
        read,
        request,
        res,
        () => {
          options.metrics.liveConnections.inc({ mode: "sse" });
          return () => options.metrics.liveConnections.dec({ mode: "sse" });
        },
        prelude,
      );
      return RESPONSE_ALREADY_SENT;
    }
    if (fromStart) {
      const snapshot = await presence.snapshot(logPath);
      return c.json(snapshot.events, 200, {
        [H.nextOffset]: snapshot.offset,
        [H.upToDate]: "true",
        "cache-control": "no-store",
      });
    }
    return readResponse(engine, read, {
      ...request,
      signal: c.req.raw.signal,
      shutdown: options.shutdown,
    });
  });

  return routes;
}
