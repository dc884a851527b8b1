/** Wire names of the Durable Streams protocol (PROTOCOL.md), defined once. */
export const H = {
  nextOffset: "Stream-Next-Offset",
  cursor: "Stream-Cursor",
  upToDate: "Stream-Up-To-Date",
  closed: "Stream-Closed",
  seq: "Stream-Seq",
  ttl: "Stream-TTL",
  expiresAt: "Stream-Expires-At",
  producerId: "Producer-Id",
  producerEpoch: "Producer-Epoch",
  producerSeq: "Producer-Seq",
  producerExpectedSeq: "Producer-Expected-Seq",
  producerReceivedSeq: "Producer-Received-Seq",
  forkedFrom: "Stream-Forked-From",
  forkOffset: "Stream-Fork-Offset",
  forkSubOffset: "Stream-Fork-Sub-Offset",
  sseDataEncoding: "Stream-SSE-Data-Encoding",
} as const;

export const Q = { offset: "offset", live: "live", cursor: "cursor" } as const;

export const SSE_FIELDS = {
  offset: "streamNextOffset",
  cursor: "streamCursor",
  upToDate: "upToDate",
  closed: "streamClosed",
} as const;

export const START_OFFSET = "-1";
export const NOW_OFFSET = "now";

/** Headers a browser may send and read (CORS). */
export const CORS_ALLOW_HEADERS = [
  "content-type",
  "authorization",
  "if-none-match",
  H.seq,
  H.ttl,
  H.expiresAt,
  H.closed,
  H.producerId,
  H.producerEpoch,
  H.producerSeq,
  H.forkedFrom,
  H.forkOffset,
  H.forkSubOffset,
].join(", ");

export const CORS_EXPOSE_HEADERS = [
  H.nextOffset,
  H.cursor,
  H.upToDate,
  H.closed,
  H.ttl,
  H.expiresAt,
  H.producerEpoch,
  H.producerSeq,
  H.producerExpectedSeq,
  H.producerReceivedSeq,
  H.sseDataEncoding,
  "etag",
  "location",
  "content-type",
  "content-encoding",
  "retry-after",
  "vary",
].join(", ");
