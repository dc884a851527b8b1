import { cursorInterval, nextCursor } from "../protocol/cursor";
import { sseControlEvent, sseDataEvent, sseEncodingFor } from "../protocol/sse";
import { firstAfter } from "../store/memory";
import type { StoredMessage, StreamMeta } from "../store/types";

/**
 * Live SSE delivery (PROTOCOL.md 5.7) shared by every subscriber of a stream. A change to a stream
 * wakes its channel once; the channel reads the new messages once, encodes each subscriber group's
 * frame (data + control event pairs) once, and writes those same bytes to every subscriber's
 * response. Subscribers keep their own position, so one that joined later or behind still gets
 * exactly the messages after its offset. Timers are per server, not per subscriber or message.
 */
/** Encoded SSE bytes shared by every subscriber they go to; the HTTP/1.1 chunk around them is built once too. */
export class SseFrame {
  private framed: Buffer | undefined;

  constructor(readonly bytes: Buffer) {}

  /** The bytes as one chunk of a chunked HTTP/1.1 body. */
  get chunk(): Buffer {
    this.framed ??= Buffer.concat([
      Buffer.from(`${this.bytes.byteLength.toString(16)}\r\n`),
      this.bytes,
      CRLF,
    ]);
    return this.framed;
  }
}

const CRLF = Buffer.from("\r\n");

export interface SseSink {
  write(frame: SseFrame): void;
  end(): void;
  /** Bytes queued for the client: a subscriber that stops reading is cut off past `maxBufferedBytes`. */
  readonly backlog: number;
}

export interface FanoutSubscription {
  sink: SseSink;
  /** Offset the subscriber has received everything up to. */
  position: string;
  /** The cursor the client sent, echoed forward in control events. */
  clientCursor: string | undefined;
  /** When the connection ends regardless (clients reconnect). */
  deadline: number;
  /** An idle subscriber gets a control event this often. */
  keepAliveMs: number;
}

export interface FanoutOptions {
  /** Reads the messages after an offset and the metadata they were read against. */
  read: (path: string, after: string) => Promise<{ meta: StreamMeta; messages: StoredMessage[] }>;
  maxBufferedBytes?: number;
  now?: () => number;
}

interface Subscriber extends FanoutSubscription {
  lastWriteAt: number;
  /** Send a control event on the next flush even without data (keep-alive). */
  announce: boolean;
  done: () => void;
}

interface Channel {
  path: string;
  subscribers: Set<Subscriber>;
  running: boolean;
  again: boolean;
}

/** What one position and client cursor receive in one delivery. */
interface Plan {
  position: string;
  clientCursor: string | undefined;
  /** Index of the first message after `position`. */
  start: number;
  hasData: boolean;
  /** The position after this delivery. */
  end: string;
  finished: boolean;
  key: string;
  cursor: string;
  frame: SseFrame | undefined;
}

const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export class Fanout {
  private readonly channels = new Map<string, Channel>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweepEveryMs = Number.POSITIVE_INFINITY;
  private count = 0;
  private readonly now: () => number;
  private readonly maxBufferedBytes: number;

  constructor(private readonly options: FanoutOptions) {
    this.now = options.now ?? Date.now;
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  }

  get size(): number {
    return this.count;
  }

  /**
   * Adds a subscriber that has already caught up to `position`; resolves when its response has
   * ended (stream closed and read, deleted, deadline, `leave`, or `endAll`).
   */
  join(path: string, subscription: FanoutSubscription): { ended: Promise<void>; leave: () => void } {
    let channel = this.channels.get(path);
    if (!channel) {
      channel = { path, subscribers: new Set(), running: false, again: false };
      this.channels.set(path, channel);
    }
    let done!: () => void;
    const ended = new Promise<void>((resolve) => {
      done = resolve;
    });
    const subscriber: Subscriber = {
      ...subscription,
      lastWriteAt: this.now(),
      announce: false,
      done,
    };
    channel.subscribers.add(subscriber);
    this.count++;
    this.ensureSweeper(subscription.keepAliveMs);
    // A change may have landed between the subscriber's last read and now: look once more.
    this.changed(path);
    const owner = channel;
    return { ended, leave: () => this.remove(owner, subscriber, false) };
  }

  /** Called for every commit to `path` (from any instance): delivers what is new. */
  changed(path: string): void {
    const channel = this.channels.get(path);
    if (!channel) return;
    if (channel.running) {
      channel.again = true;
      return;
    }
    channel.running = true;
    queueMicrotask(() => void this.flush(channel));
  }

  /** Ends every live subscriber (shutdown): each has had a control event with its offset. */
  endAll(): void {
    for (const channel of [...this.channels.values()]) {
      for (const subscriber of [...channel.subscribers]) this.remove(channel, subscriber, true);
    }
  }

  private async flush(channel: Channel): Promise<void> {
    try {
      do {
        channel.again = false;
        if (channel.subscribers.size === 0) break;
        let from: string | undefined;
        for (const subscriber of channel.subscribers) {
          if (from === undefined || subscriber.position < from) from = subscriber.position;
        }
        let result: { meta: StreamMeta; messages: StoredMessage[] };
        try {
          result = await this.options.read(channel.path, from as string);
        } catch {
          // Deleted or expired: live readers end; they learn why on reconnect.
          for (const subscriber of [...channel.subscribers]) this.remove(channel, subscriber, true);
          break;
        }
        this.deliver(channel, result.meta, result.messages);
      } while (channel.again);
    } finally {
      channel.running = false;
      if (channel.subscribers.size === 0 && this.channels.get(channel.path) === channel) {
        this.channels.delete(channel.path);
      }
    }
  }

  /**
   * Writes to each subscriber the frames after its position. Subscribers that share a position and
   * a cursor share the bytes; consecutive ones (nearly all of them: a live stream's readers move
   * together) also share the work, so the per-subscriber cost is a comparison and a socket write.
   */
  private deliver(channel: Channel, meta: StreamMeta, messages: StoredMessage[]): void {
    const now = this.now();
    const encoding = sseEncodingFor(meta.contentType);
    const interval = cursorInterval(now);
    const currentCursor = String(interval);
    const dataEvents: Array<string | undefined> = [];
    const frames = new Map<string, SseFrame>();
    let plan: Plan | undefined;
    for (const subscriber of channel.subscribers) {
      if (!plan || plan.position !== subscriber.position || plan.clientCursor !== subscriber.clientCursor) {
        const start = firstAfter(messages, subscriber.position);
        const hasData = start < messages.length;
        const end = hasData ? (messages[messages.length - 1] as StoredMessage).offset : subscriber.position;
        const client = subscriber.clientCursor;
        const cursor =
          client === undefined || !(Number.parseInt(client, 10) >= interval)
            ? currentCursor
            : nextCursor(client, now);
        plan = {
          position: subscriber.position,
          clientCursor: client,
          start,
          hasData,
          end,
          finished: meta.closed && end >= meta.tailOffset,
          key: hasData ? `${start}:${cursor}` : `-${end}:${cursor}`,
          cursor,
          frame: undefined,
        };
      }
      if (plan.hasData || subscriber.announce || plan.finished) {
        let frame = plan.frame ?? frames.get(plan.key);
        if (frame === undefined) {
          let text = "";
          for (let i = plan.start; i < messages.length; i++) {
            const message = messages[i] as StoredMessage;
            const encoded = dataEvents[i] ?? sseDataEvent(message.data, encoding);
            dataEvents[i] = encoded;
            text += encoded + sseControlEvent(message.offset, meta.tailOffset, meta.closed, plan.cursor);
          }
          if (!plan.hasData) text += sseControlEvent(plan.end, meta.tailOffset, meta.closed, plan.cursor);
          frame = new SseFrame(Buffer.from(text));
          frames.set(plan.key, frame);
        }
        plan.frame = frame;
        subscriber.sink.write(frame);
        subscriber.lastWriteAt = now;
        subscriber.announce = false;
      }
      subscriber.position = plan.end;
      if (plan.finished || subscriber.sink.backlog > this.maxBufferedBytes) {
        this.remove(channel, subscriber, true);
      }
    }
  }

  private remove(channel: Channel, subscriber: Subscriber, end: boolean): void {
    if (!channel.subscribers.delete(subscriber)) return;
    this.count--;
    if (channel.subscribers.size === 0 && !channel.running && this.channels.get(channel.path) === channel) {
      this.channels.delete(channel.path);
    }
    if (this.count === 0) this.stopSweeper();
    if (end) subscriber.sink.end();
    subscriber.done();
  }

  /** One timer for all subscribers: keep-alive control events and connection deadlines. */
  private ensureSweeper(keepAliveMs: number): void {
    const period = Math.max(10, Math.min(1000, Math.floor(keepAliveMs / 2)));
    if (this.sweeper && period >= this.sweepEveryMs) return;
    clearInterval(this.sweeper);
    this.sweepEveryMs = period;
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.sweepEveryMs = Number.POSITIVE_INFINITY;
  }

  private sweep(): void {
    const now = this.now();
    for (const channel of [...this.channels.values()]) {
      let idle = false;
      for (const subscriber of [...channel.subscribers]) {
        if (now >= subscriber.deadline) this.remove(channel, subscriber, true);
        else if (now - subscriber.lastWriteAt >= subscriber.keepAliveMs) {
          subscriber.announce = true;
          idle = true;
        }
      }
      if (idle) this.changed(channel.path);
    }
  }
}
