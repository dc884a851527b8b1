import type { ServerResponse } from "node:http";
import { H, NOW_OFFSET, Q, SSE_FIELDS, START_OFFSET } from "../protocol/constants";
import { nextCursor } from "../protocol/cursor";
import { badRequest } from "../protocol/errors";
import { isJsonContentType, jsonArrayOf, normalizeContentType } from "../protocol/json";
import { isConcreteOffset, minOffset, normalizeOffset } from "../protocol/offset";
import { sseEvent } from "../protocol/sse";
import type { StoredMessage, StreamMeta } from "../store/types";
import type { StreamEngine } from "../streams/engine";

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
  signal: AbortSignal;
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
      const waiting = engine.waitForChange(
        req.path,
        settings.longPollTimeoutMs,
        AbortSignal.any([req.signal, cancel.signal]),
      );
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

function isSseCompatible(contentType: string): boolean {
  const type = normalizeContentType(contentType);
  return type.startsWith("text/") || type === "application/json";
}

/**
 * SSE (PROTOCOL.md 5.7): data events, each batch followed by a control event; the connection ends
 * when the stream is closed and read to its end, after `sseMaxMs`, or at shutdown.
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
  const initial = await engine.read(req.path, "");
  const base64 = !isSseCompatible(initial.meta.contentType);
  const json = isJsonContentType(initial.meta.contentType);
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    ...(base64 ? { [H.sseDataEncoding]: "base64" } : {}),
  });
  if (prelude) res.write(prelude);
  else res.flushHeaders();
  const close = onOpen();
  const deadline = Date.now() + settings.sseMaxMs;
  let position = offset === undefined || offset === START_OFFSET ? "" : offset;
  if (position === NOW_OFFSET) position = initial.meta.tailOffset;
  try {
    let waiting: Promise<unknown> | undefined;
    /** Whether the next read sends a control event even without data (first read, keep-alive). */
    let announce = true;
    let cancel = new AbortController();
    while (!req.signal.aborted) {
      const remaining = deadline - Date.now();
      // Register before reading, so an append landing between the read and the wait cannot be missed.
      cancel.abort();
      cancel = new AbortController();
      waiting = engine.waitForChange(
        req.path,
        Math.max(1, Math.min(remaining, settings.longPollTimeoutMs)),
        AbortSignal.any([req.signal, cancel.signal]),
      );
      const { meta, messages } = await engine.read(req.path, position);
      let chunk = "";
      const controlFor = (end: string) => {
        const control: Record<string, string | boolean> = { [SSE_FIELDS.offset]: end };
        if (meta.closed && end >= meta.tailOffset) control[SSE_FIELDS.closed] = true;
        else {
          control[SSE_FIELDS.cursor] = nextCursor(cursor);
          if (end >= meta.tailOffset) control[SSE_FIELDS.upToDate] = true;
        }
        return sseEvent("control", JSON.stringify(control));
      };
      for (const message of messages) {
        const data = Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength);
        const payload = base64
          ? data.toString("base64")
          : json
            ? jsonArrayOf([data]).toString("utf8")
            : data.toString("utf8");
        chunk += sseEvent("data", payload) + controlFor(message.offset);
      }
      const end =
        messages.at(-1)?.offset ?? (position === "" ? meta.tailOffset : minOffset(position, meta.tailOffset));
      position = end;
      const finished = meta.closed && end >= meta.tailOffset;
      if (messages.length === 0 && (announce || finished)) chunk += controlFor(end);
      if (chunk) res.write(chunk);
      announce = false;
      if (finished || remaining <= 0) break;
      if (messages.length > 0) continue;
      const outcome = await waiting;
      if (outcome === "aborted") break;
      if (outcome === "timeout" && Date.now() >= deadline) break;
      if (outcome === "timeout") announce = true;
    }
    cancel.abort();
  } catch {
    // The stream was deleted or expired while we were reading: end the connection.
  } finally {
    close();
    res.end();
  }
}
