import { badRequest } from "./errors";

/**
 * JSON mode (PROTOCOL.md "JSON mode"): a POSTed array is flattened one level and each element is a
 * message; a read returns one JSON array. Stored form: each value serialized and followed by a comma.
 */
export function isJsonContentType(contentType: string | undefined): boolean {
  return normalizeContentType(contentType) === "application/json";
}

export function normalizeContentType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** Values of an append body in JSON mode, each serialized. Throws 400 on malformed JSON or an empty array. */
export function splitJsonAppend(body: Uint8Array, allowEmptyArray: boolean): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    throw badRequest("invalid JSON body");
  }
  if (!Array.isArray(parsed)) return [JSON.stringify(parsed)];
  if (parsed.length === 0 && !allowEmptyArray) throw badRequest("empty JSON arrays are not allowed");
  return parsed.map((value) => JSON.stringify(value));
}

/** Wraps stored JSON fragments (`v1,v2,`) into one array. */
export function jsonArrayOf(fragments: Uint8Array[]): Buffer {
  const parts: Buffer[] = [Buffer.from("[")];
  let total = 1;
  for (const fragment of fragments) {
    parts.push(Buffer.from(fragment.buffer, fragment.byteOffset, fragment.byteLength));
    total += fragment.byteLength;
  }
  let joined = Buffer.concat(parts, total);
  if (joined.length > 1 && joined[joined.length - 1] === 0x2c) joined = joined.subarray(0, joined.length - 1);
  return Buffer.concat([joined, Buffer.from("]")]);
}
