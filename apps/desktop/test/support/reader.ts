import { stream } from "@durable-streams/client";
import type { StreamEvent } from "../../src/main/lib/host/stream-events";

/**
 * A client following a session's durable stream with @durable-streams/client
 * (SSE), keeping every event and the offset after the last batch.
 */
export class StreamReader {
  readonly events: StreamEvent[] = [];
  offset = "-1";
  private controller: AbortController | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly url: string,
    private readonly token: () => Promise<string>,
  ) {}

  /** Starts reading at `offset` (the start of the stream by default) in the background, once the stream exists. */
  start(offset = this.offset): void {
    this.controller = new AbortController();
    this.connect(offset, this.controller.signal).catch((error) => {
      this.error = error;
    });
  }

  error: unknown;

  private async connect(offset: string, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // One controller per attempt: the client adds an abort listener to the signal it is given and never
      // removes it, so retrying on one long-lived signal piles listeners up (MaxListenersExceededWarning).
      const attempt = new AbortController();
      const forward = () => attempt.abort();
      signal.addEventListener("abort", forward, { once: true });
      try {
        const res = await stream<StreamEvent>({
          url: this.url,
          offset,
          live: "sse",
          signal: attempt.signal,
          headers: { authorization: async () => `Bearer ${await this.token()}` },
        });
        res.subscribeJson<StreamEvent>((batch) => {
          this.events.push(...batch.items);
          this.offset = batch.offset;
          for (const wake of this.waiters.splice(0)) wake();
        });
        return;
      } catch (error) {
        signal.removeEventListener("abort", forward);
        if (signal.aborted) return;
        if (!String(error).includes("404") && !String(error).includes("not found")) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  stop(): void {
    this.controller?.abort();
  }

  /** Resolves once `predicate` holds over the events read so far. */
  async until(predicate: (events: StreamEvent[]) => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      if (this.error) throw this.error;
      if (Date.now() > deadline) {
        throw new Error(`stream reader timed out; saw ${this.events.map((e) => e.type).join(",")}`);
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }
}

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}
