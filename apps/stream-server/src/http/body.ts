import type { IncomingMessage } from "node:http";
import { StreamError } from "../protocol/errors";

/** Reads a request body, refusing more than `maxBytes` with 413 before buffering it all. */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks, total);
}

export function tooLarge(maxBytes: number): StreamError {
  return new StreamError(413, "PAYLOAD_TOO_LARGE", `request body exceeds ${maxBytes} bytes`);
}

/** Receives a whole request body, or why there is none. */
export interface BodySink {
  body(error: Error | undefined, data: Buffer): void;
}

/**
 * The same for a Node request, delivered to `sink` in the tick the body ends: 413 as soon as the
 * declared or received size passes `maxBytes`. `sink.body` is called once.
 */
export function collectNodeBody(request: IncomingMessage, maxBytes: number, sink: BodySink): void {
  const declared = Number(request.headers["content-length"] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    sink.body(tooLarge(maxBytes), EMPTY);
    return;
  }
  new BodyCollector(request, maxBytes, sink);
}

class BodyCollector {
  private readonly chunks: Buffer[] = [];
  private total = 0;
  private settled = false;

  constructor(
    private readonly request: IncomingMessage,
    private readonly maxBytes: number,
    private readonly sink: BodySink,
  ) {
    this.onData = this.onData.bind(this);
    request.on("data", this.onData);
    request.once("end", () => this.settle(undefined, this.whole()));
    request.once("error", (error) => this.settle(error, EMPTY));
  }

  private onData(chunk: Buffer): void {
    this.total += chunk.byteLength;
    if (this.total > this.maxBytes) {
      this.request.off("data", this.onData);
      this.request.resume();
      this.settle(tooLarge(this.maxBytes), EMPTY);
      return;
    }
    this.chunks.push(chunk);
  }

  private whole(): Buffer {
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.total);
  }

  private settle(error: Error | undefined, body: Buffer): void {
    if (this.settled) return;
    this.settled = true;
    this.sink.body(error, body);
  }
}

const EMPTY = Buffer.alloc(0);
