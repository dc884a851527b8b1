import { setTimeout as sleep } from "node:timers/promises";
import { DurableStream, IdempotentProducer } from "@durable-streams/client";
import type { Logger } from "pino";
import type { StreamEvent, UnsequencedStreamEvent } from "./stream-events";

/** A stream token as `device.getStreamToken` returns it. */
export interface StreamGrant {
  token: string;
  url: string;
  expiresAt: Date | string | number;
}

export interface StreamWriterOptions {
  sessionId: string;
  /** Stable per device and session: the server dedupes a retried batch by (producer id, epoch, seq). */
  producerId: string;
  /** A token allowing append to this session's stream (asked again shortly before it expires). */
  grant: () => Promise<StreamGrant>;
  /** How long a batch waits for more events (default 2 ms). */
  lingerMs?: number;
  /** How long an append keeps retrying through network cuts and 5xx before the writer gives up (default 120 s). */
  retryForMs?: number;
  /** Replaces the stream server origin of the grant's URL (the API may advertise a public URL). */
  streamUrl?: string;
  logger: Logger;
}

const REFRESH_BEFORE_MS = 60_000;

/**
 * Appends a session's events to its durable stream through one idempotent
 * producer. Network failures and 5xx are retried with the same producer
 * headers, so the stream server accepts each batch exactly once.
 */
export class SessionStreamWriter {
  private producer: IdempotentProducer | undefined;
  private cached: { token: string; url: string; expiresAt: number } | undefined;
  private seq = 0;
  private failure: Error | undefined;
  private readonly opts: Required<Omit<StreamWriterOptions, "streamUrl">> & { streamUrl?: string };

  constructor(options: StreamWriterOptions) {
    this.opts = { lingerMs: 2, retryForMs: 120_000, ...options };
  }

  /** Creates the stream (idempotent PUT) and the producer; call while holding a claim in the session. */
  async open(): Promise<void> {
    if (this.producer) return;
    const { url } = await this.token();
    const stream = await DurableStream.create({
      url,
      contentType: "application/json",
      headers: { authorization: async () => `Bearer ${(await this.token()).token}` },
      fetch: this.retryingFetch,
    });
    this.producer = new IdempotentProducer(stream, this.opts.producerId, {
      // A new epoch per writer: a restarted host never reuses (epoch, seq) pairs the server already has.
      epoch: Date.now(),
      autoClaim: true,
      lingerMs: this.opts.lingerMs,
      maxInFlight: 1,
      fetch: this.retryingFetch,
      onError: (error) => {
        this.failure ??= error;
        this.opts.logger.error(
          { sessionId: this.opts.sessionId, err: error.message },
          "stream append failed",
        );
      },
    });
  }

  /** Queues one event (sent within `lingerMs`); stamps `seq` and `at`. */
  append(event: UnsequencedStreamEvent): StreamEvent {
    if (!this.producer) throw new Error("the stream writer is not open");
    const stamped = { ...event, seq: ++this.seq, at: event.at ?? Date.now() } as StreamEvent;
    this.producer.append(JSON.stringify(stamped));
    return stamped;
  }

  /** Waits until every queued event is stored; throws if the stream server refused or stayed away. */
  async flush(): Promise<void> {
    await this.producer?.flush();
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.detach().catch(() => {});
  }

  private async token() {
    if (!this.cached || this.cached.expiresAt - Date.now() < REFRESH_BEFORE_MS) {
      const grant = await this.opts.grant();
      let url = grant.url;
      if (this.opts.streamUrl) {
        const given = new URL(grant.url);
        url = new URL(given.pathname, this.opts.streamUrl).toString();
      }
      this.cached = { token: grant.token, url, expiresAt: new Date(grant.expiresAt).getTime() };
    }
    return this.cached;
  }

  /** fetch that retries network errors, 429 and 5xx until `retryForMs`, with a fresh token each try. */
  private readonly retryingFetch: typeof fetch = async (input, init) => {
    const deadline = Date.now() + this.opts.retryForMs;
    let delay = 50;
    let refreshed = false;
    while (true) {
      const headers = new Headers(init?.headers);
      headers.set("authorization", `Bearer ${(await this.token()).token}`);
      try {
        const res = await fetch(input, { ...init, headers });
        if (res.status === 401 && !refreshed) {
          refreshed = true;
          this.cached = undefined;
          continue;
        }
        if (res.status !== 429 && res.status < 500) return res;
        if (Date.now() > deadline) return res;
        this.opts.logger.warn(
          { sessionId: this.opts.sessionId, status: res.status },
          "stream server busy: retrying",
        );
      } catch (error) {
        if (init?.signal?.aborted || Date.now() > deadline) throw error;
        this.opts.logger.warn(
          { sessionId: this.opts.sessionId, err: (error as Error).message },
          "stream server unreachable: retrying",
        );
      }
      await sleep(Math.random() * delay + delay / 2);
      delay = Math.min(delay * 2, 2_000);
    }
  };
}
