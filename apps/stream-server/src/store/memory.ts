import type { CommitRequest, StoredMessage, StreamBackend, StreamMeta } from "./types";

interface Entry {
  meta: StreamMeta;
  messages: StoredMessage[];
}

/** First index whose offset is greater than `after` (messages are sorted by offset). */
export function firstAfter(messages: StoredMessage[], after: string): number {
  let lo = 0;
  let hi = messages.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((messages[mid] as StoredMessage).offset <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function sliceMessages(messages: StoredMessage[], after: string, upTo?: string): StoredMessage[] {
  const start = firstAfter(messages, after);
  const end = upTo === undefined ? messages.length : firstAfter(messages, upTo);
  return start === 0 && end === messages.length ? messages.slice() : messages.slice(start, end);
}

/** Streams in process memory: for tests and development. Also the state behind the file backend. */
export class MemoryBackend implements StreamBackend {
  readonly kind: "memory" | "file" = "memory";
  protected readonly entries = new Map<string, Entry>();
  private readonly accessed = new Map<string, number>();
  private readonly listeners = new Set<(path: string) => void>();

  async getMeta(path: string): Promise<StreamMeta | undefined> {
    return this.entries.get(path)?.meta;
  }

  async getLatestMeta(path: string): Promise<StreamMeta | undefined> {
    return this.entries.get(path)?.meta;
  }

  async readMessages(path: string, after: string, upTo?: string): Promise<StoredMessage[]> {
    const entry = this.entries.get(path);
    return entry ? sliceMessages(entry.messages, after, upTo) : [];
  }

  async commit(request: CommitRequest): Promise<false | { durable: Promise<void> }> {
    if (!this.apply(request)) return false;
    this.emit(request.path);
    return { durable: Promise.resolve() };
  }

  /** Synchronous compare-and-set; used by subclasses that add durability. */
  protected apply({ path, expectedVersion, meta, messages }: CommitRequest): boolean {
    const entry = this.entries.get(path);
    if ((entry?.meta.version ?? 0) !== expectedVersion) return false;
    if (meta === null) {
      this.entries.delete(path);
      this.accessed.delete(path);
      return true;
    }
    if (entry) {
      entry.meta = meta;
      if (messages) for (const message of messages) entry.messages.push(message);
    } else {
      this.entries.set(path, { meta, messages: messages ? [...messages] : [] });
    }
    return true;
  }

  protected emit(path: string): void {
    for (const listener of this.listeners) listener(path);
  }

  touch(path: string, at: number): void {
    this.accessed.set(path, at);
  }

  async lastAccess(path: string): Promise<number | undefined> {
    return this.accessed.get(path);
  }

  onChange(listener: (path: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
