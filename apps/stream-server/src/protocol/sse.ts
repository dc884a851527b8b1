import { SSE_FIELDS } from "./constants";
import { isJsonContentType, jsonArrayOf, normalizeContentType } from "./json";

/**
 * SSE framing (PROTOCOL.md "SSE mode"). Every line of a payload gets its own `data:` prefix, so a
 * payload cannot inject events through CR or LF; no space after the colon, so leading spaces survive.
 */
export function sseEvent(event: string, payload: string): string {
  return `event: ${event}\ndata:${payload.split(/\r\n|\r|\n/).join("\ndata:")}\n\n`;
}

/** How a stream's messages travel in SSE data events: as text, as a one-message JSON array, or base64. */
export type SseEncoding = "text" | "json" | "base64";

export function sseEncodingFor(contentType: string): SseEncoding {
  if (isJsonContentType(contentType)) return "json";
  return normalizeContentType(contentType).startsWith("text/") ? "text" : "base64";
}

/** The `data` event of one stored message. */
export function sseDataEvent(data: Uint8Array, encoding: SseEncoding): string {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const payload =
    encoding === "base64"
      ? bytes.toString("base64")
      : encoding === "json"
        ? jsonArrayOf([bytes]).toString("utf8")
        : bytes.toString("utf8");
  return sseEvent("data", payload);
}

/**
 * The `control` event after data up to `end`: a closed stream read to its end says so (and nothing
 * else); otherwise the cursor, and `upToDate` once `end` is the tail.
 */
export function sseControlEvent(end: string, tail: string, closed: boolean, cursor: string): string {
  const control: Record<string, string | boolean> = { [SSE_FIELDS.offset]: end };
  if (closed && end >= tail) control[SSE_FIELDS.closed] = true;
  else {
    control[SSE_FIELDS.cursor] = cursor;
    if (end >= tail) control[SSE_FIELDS.upToDate] = true;
  }
  return sseEvent("control", JSON.stringify(control));
}
