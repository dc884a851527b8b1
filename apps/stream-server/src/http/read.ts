import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { H, NOW_OFFSET, Q, START_OFFSET } from "../protocol/constants";
import { nextCursor } from "../protocol/cursor";
import { badRequest } from "../protocol/errors";
import { isJsonContentType, jsonArrayOf } from "../protocol/json";
import { isConcreteOffset, minOffset, normalizeOffset } from "../protocol/offset";
import { sseControlEvent, sseDataEvent, sseEncodingFor } from "../protocol/sse";
import type { StoredMessage, StreamMeta } from "../store/types";
import type { StreamEngine } from "../streams/engine";
import type { SseSink } from "../streams/fanout";

/** GET of PROTOCOL.md 5.5 to 5.7: catch-up, long-poll and SSE. */
export interface ReadSettings {
  longPollTimeoutMs: number;
  sseMaxMs: number;
  /** Cache-Control for cacheable catch-up reads. */
  cacheControl: string;
}

export interface ReadRequest {
  path: string;
  url: URL;
  ifNoneMatch: string | null;
  /** The client's request: aborted when it goes away. */
  signal: AbortSignal;
  /** The server's: aborted at shutdown, so a waiting long-poll answers at once. */
  shutdown?: AbortSignal;
}

export function parseReadQuery(url: URL): { offset?: string; live: string | null; cursor?: string } {
  const offsets = url.searchParams.getAll(Q.offset);
  if (offsets.length > 1) throw badRequest("only one offset parameter is allowed");
  const raw = offsets[0];
  if (raw !== undefined) {
    if (raw === "") throw badRequest("empty offset parameter");
    if (raw !== START_OFFSET && raw !== NOW_OFFSET && !isConcreteOffset(raw))
      throw badRequest("invalid offset");
  }
  const live = url.searchParams.get(Q.live);
  if (live !== null && live !== "long-poll" && live !== "sse")
    throw badRequest("live must be long-poll or sse");
  if (live && raw === undefined) throw badRequest(`${live} requires an offset parameter`);
  const offset = raw === undefined || raw === START_OFFSET || raw === NOW_OFFSET ? raw : normalizeOffset(raw);
  return { offset, live, cursor: url.searchParams.get(Q.cursor) ?? undefined };
}

export function body(meta: StreamMeta, messages: StoredMessage[]): Buffer {
  if (isJsonContentType(meta.contentType)) return jsonArrayOf(messages.map((m) => m.data));
  return Buffer.concat(messages.map((m) => m.data));
}

function etagOf(path: string, start: string, end: string, closed: boolean): string {
  return `"${Buffer.from(path).toString("base64url")}:${start}:${end}${closed ? ":c" : ""}"`;
}

export async function readResponse(
  engine: StreamEngine,
  settings: ReadSettings,
  req: ReadRequest,
): Promise<Response> {
  const { offset, live, cursor } = parseReadQuery(req.url);
  let { meta } = await engine.read(req.path, "");
  const headers = new Headers({ "content-type": meta.contentType });

  if (offset === NOW_OFFSET && live !== "long-poll") {
    headers.set(H.nextOffset, meta.tailOffset);
    headers.set(H.upToDate, "true");
    headers.set("cache-control", "no-store");
    if (meta.closed) headers.set(H.closed, "true");
    return new Response(isJsonContentType(meta.contentType) ? "[]" : "", { status: 200, headers });
  }
  const from =
    offset === undefined || offset === START_OFFSET ? "" : offset === NOW_OFFSET ? meta.tailOffset : offset;
  let messages = (await engine.read(req.path, from)).messages;

  if (live === "long-poll" && messages.length === 0) {
    if (!meta.closed) {
      // Register before re-reading, so an append landing between the two cannot be missed.
      const cancel = new AbortController();
      const signals = [req.signal, cancel.signal];
      if (req.shutdown) signals.push(req.shutdown);
      const waiting = engine.waitForChange(req.path, settings.longPollTimeoutMs, ...signals);
      let after = await engine.read(req.path, from);
      if (after.messages.length === 0 && !after.meta.closed) {
        await waiting;
        after = await engine.read(req.path, from);
      } else cancel.abort();
      meta = after.meta;
      messages = after.messages;
    }
    if (messages.length === 0) {
      const emptyHeaders = new Headers({
        [H.nextOffset]: from === "" ? meta.tailOffset : from,
        [H.upToDate]: "true",
        [H.cursor]: nextCursor(cursor),
        "cache-control": "no-store",
      });
      if (meta.closed) emptyHeaders.set(H.closed, "true");
      return new Response(null, { status: 204, headers: emptyHeaders });
    }
  }

  const end = messages.at(-1)?.offset ?? (from === "" ? meta.tailOffset : maxOf(from, meta));
  const atTail = end >= meta.tailOffset;
  headers.set(H.nextOffset, end);
  headers.set(H.upToDate, "true");
  if (live === "long-poll") headers.set(H.cursor, nextCursor(cursor));
  const closedAtTail = meta.closed && atTail;
  if (closedAtTail) headers.set(H.closed, "true");
  const etag = etagOf(req.path, offset ?? START_OFFSET, end, closedAtTail);
  headers.set("etag", etag);
  headers.set("cache-control", messages.length > 0 ? settings.cacheControl : "no-store");
  if (req.ifNoneMatch !== null && req.ifNoneMatch === etag) {
    return new Response(null, {
      status: 304,
      headers: { etag, "cache-control": headers.get("cache-control") ?? "" },
    });
  }
  return new Response(body(meta, messages), { status: 200, headers });
}

function maxOf(from: string, meta: StreamMeta): string {
  return from > meta.tailOffset ? meta.tailOffset : from;
}

/**
 * SSE (PROTOCOL.md 5.7): catches up from the requested offset with this connection's own reads
 * (data events, each followed by a control event), then joins the stream's fan-out, which delivers
 * every later change with bytes encoded once for all subscribers. The connection ends when the
 * stream is closed and read to its end, after `sseMaxMs`, or at shutdown.
 */
export async function streamSse(
  engine: StreamEngine,
  settings: ReadSettings,
  req: ReadRequest,
  res: ServerResponse,
  onOpen: () => () => void,
  prelude = "",
): Promise<void> {
  const { offset, cursor } = parseReadQuery(req.url);
  const initial = await engine.get(req.path);
  const encoding = sseEncodingFor(initial.contentType);
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    ...(encoding === "base64" ? { [H.sseDataEncoding]: "base64" } : {}),
  });
  if (prelude) res.write(prelude);
  else res.flushHeaders();
  const close = onOpen();
  let leave: (() => void) | undefined;
  let disconnected = false;
  const onClose = () => {
    disconnected = true;
    leave?.();
  };
  res.once("close", onClose);
  let position = offset === undefined || offset === START_OFFSET ? "" : offset;
  if (position === NOW_OFFSET) position = initial.tailOffset;
  try {
    for (let first = true; ; first = false) {
      if (disconnected || req.signal.aborted) return;
      const { meta, messages } = await engine.read(req.path, position);
      const nextCursorValue = nextCursor(cursor);
      let chunk = "";
      for (const message of messages) {
        chunk +=
          sseDataEvent(message.data, encoding) +
          sseControlEvent(message.offset, meta.tailOffset, meta.closed, nextCursorValue);
      }
      const end =
        messages.at(-1)?.offset ?? (position === "" ? meta.tailOffset : minOffset(position, meta.tailOffset));
      position = end;
      const finished = meta.closed && end >= meta.tailOffset;
      if (messages.length === 0 && (first || finished)) {
        chunk += sseControlEvent(end, meta.tailOffset, meta.closed, nextCursorValue);
      }
      if (chunk) res.write(chunk);
      if (finished) return;
      if (end >= meta.tailOffset) break;
    }
    if (disconnected || req.signal.aborted) return;
    const subscription = engine.fanout.join(req.path, {
      sink: responseSink(res),
      position,
      clientCursor: cursor,
      deadline: Date.now() + settings.sseMaxMs,
      keepAliveMs: settings.longPollTimeoutMs,
    });
    leave = subscription.leave;
    await subscription.ended;
  } catch {
    // The stream was deleted or expired while we were reading: end the connection.
  } finally {
    res.off("close", onClose);
    leave?.();
    close();
    res.end();
  }
}

/**
 * A live SSE response as a fan-out sink. Once the headers are out and nothing waits in the
 * response's own buffer, the shared pre-framed chunk goes straight to the socket: one write, no
 * per-subscriber framing or copies. Otherwise (headers still queued) through the response.
 */
function responseSink(res: ServerResponse): SseSink {
  const chunked = (res as { chunkedEncoding?: boolean }).chunkedEncoding === true;
  // Set once the response's own buffer has drained into the socket; from then on only the socket
  // is written, so it stays the one place bytes wait.
  let direct: Socket | undefined;
  return {
    write(frame) {
      if (direct === undefined) {
        const socket = res.socket;
        if (socket && res.headersSent && res.writableLength === socket.writableLength) direct = socket;
      }
      if (direct === undefined) res.write(frame.bytes);
      else if (!direct.destroyed) direct.write(chunked ? frame.chunk : frame.bytes);
    },
    end: () => res.end(),
    get backlog() {
      return direct === undefined ? res.writableLength : direct.writableLength;
    },
  };
}
