import { H } from "../protocol/constants";
import { badRequest } from "../protocol/errors";
import { isConcreteOffset, normalizeOffset } from "../protocol/offset";
import type { AppendOptions, AppendResult, StreamEngine } from "../streams/engine";
import { readBody } from "./body";
import { type HeaderSource, parseExpiresAt, parseProducer, parseSubOffset, parseTtl } from "./headers";

/** PUT, POST, HEAD and DELETE of PROTOCOL.md 5.1 to 5.4. */
export interface WriteContext {
  engine: StreamEngine;
  path: string;
  request: Request;
  maxBodyBytes: number;
  /** Public URL of the stream, for Location. */
  location: string;
  /** Maps a Stream-Forked-From value to a storage path. */
  resolveForkSource: (value: string) => string;
  onAppend?: (bytes: number) => void;
}

export async function createStream(ctx: WriteContext): Promise<Response> {
  const h = ctx.request.headers;
  const ttlHeader = h.get(H.ttl) ?? undefined;
  const expiresHeader = h.get(H.expiresAt) ?? undefined;
  if (ttlHeader !== undefined && expiresHeader !== undefined) {
    throw badRequest("send either Stream-TTL or Stream-Expires-At, not both");
  }
  const forkedFromRaw = h.get(H.forkedFrom) ?? undefined;
  const forkOffset = h.get(H.forkOffset) ?? undefined;
  if (forkOffset !== undefined && !isConcreteOffset(forkOffset))
    throw badRequest("invalid Stream-Fork-Offset");
  const forkSubOffset = parseSubOffset(h.get(H.forkSubOffset) ?? undefined);
  if (forkSubOffset !== undefined && forkedFromRaw === undefined) {
    throw badRequest("Stream-Fork-Sub-Offset requires Stream-Forked-From");
  }
  const options = {
    contentType: h.get("content-type") ?? undefined,
    ttlSeconds: parseTtl(ttlHeader),
    expiresAt: parseExpiresAt(expiresHeader),
    closed: h.get(H.closed)?.toLowerCase() === "true",
    forkedFrom: forkedFromRaw === undefined ? undefined : ctx.resolveForkSource(forkedFromRaw),
    forkOffset: forkOffset === undefined ? undefined : normalizeOffset(forkOffset),
    forkSubOffset: forkSubOffset || undefined,
    initialData: await readBody(ctx.request, ctx.maxBodyBytes),
  };
  const { created, meta } = await ctx.engine.create(ctx.path, options);
  if (created && options.initialData.byteLength > 0) ctx.onAppend?.(options.initialData.byteLength);
  const headers = new Headers({ "content-type": meta.contentType, [H.nextOffset]: meta.tailOffset });
  if (created) headers.set("location", ctx.location);
  if (meta.closed) headers.set(H.closed, "true");
  return new Response(null, { status: created ? 201 : 200, headers });
}

export async function appendToStream(ctx: WriteContext): Promise<Response> {
  const data = await readBody(ctx.request, ctx.maxBodyBytes);
  const { status, headers } = await appendCore(ctx.engine, ctx.path, ctx.request.headers, data, ctx.onAppend);
  return new Response(null, { status, headers });
}

/** POST (PROTOCOL.md 5.2) once the body is read: the status and headers of the answer. */
export async function appendCore(
  engine: StreamEngine,
  path: string,
  h: HeaderSource,
  data: Uint8Array,
  onAppend?: (bytes: number) => void,
): Promise<AppendAnswer> {
  const options = parseAppend(h, data);
  const result = await engine.append(path, data, options);
  if (result.kind === "appended" && data.byteLength > 0) onAppend?.(data.byteLength);
  return answerAppend(options, result, data.byteLength);
}

export interface AppendAnswer {
  status: 200 | 204;
  headers: Record<string, string>;
}

/** An append's options from its headers; 400 for what the protocol refuses before any state is read. */
export function parseAppend(h: HeaderSource, data: Uint8Array): AppendOptions {
  const close = h.get(H.closed)?.toLowerCase() === "true";
  const producer = parseProducer(h);
  const seq = h.get(H.seq) ?? undefined;
  const contentType = h.get("content-type") ?? undefined;
  if (data.byteLength === 0 && !close) throw badRequest("empty append body");
  if (data.byteLength > 0 && contentType === undefined) throw badRequest("Content-Type is required");
  return { contentType, seq, producer, close };
}

/** The status and headers answering an append with this result. */
export function answerAppend(options: AppendOptions, result: AppendResult, bytes: number): AppendAnswer {
  const { producer } = options;
  const headers: Record<string, string> = {};
  if (producer) {
    headers[H.producerEpoch] = String(producer.epoch);
    headers[H.producerSeq] = String(result.kind === "duplicate" ? result.lastSeq : producer.seq);
  }
  if (result.closed) headers[H.closed] = "true";
  if (result.kind === "duplicate") {
    if (result.closed) headers[H.nextOffset] = result.offset;
    return { status: 204, headers };
  }
  headers[H.nextOffset] = result.offset;
  return { status: producer && bytes > 0 ? 200 : 204, headers };
}

export async function headStream(ctx: WriteContext): Promise<Response> {
  const meta = await ctx.engine.get(ctx.path, false);
  const headers = new Headers({
    "content-type": meta.contentType,
    [H.nextOffset]: meta.tailOffset,
    "cache-control": "no-store",
    etag: `"${Buffer.from(ctx.path).toString("base64url")}:-1:${meta.tailOffset}${meta.closed ? ":c" : ""}"`,
  });
  if (meta.closed) headers.set(H.closed, "true");
  if (meta.ttlSeconds !== undefined) headers.set(H.ttl, String(meta.ttlSeconds));
  if (meta.expiresAt !== undefined) headers.set(H.expiresAt, meta.expiresAt);
  return new Response(null, { status: 200, headers });
}

export async function deleteStream(ctx: WriteContext): Promise<Response> {
  await ctx.engine.delete(ctx.path);
  return new Response(null, { status: 204 });
}
