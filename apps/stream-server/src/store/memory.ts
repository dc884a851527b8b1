import type {
  CommitRequest,
  ControlRecord,
  LocalView,
  StoredMessage,
  StreamBackend,
  StreamMeta,
} from "./types";

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
  protected readonly records = new Map<string, ControlRecord>();
  private readonly recordListeners = new Set<(key: string) => void>();

  readonly local: LocalView = {
    meta: (path) => this.visibleMeta(path),
    latestMeta: (path) => this.entries.get(path)?.meta,
    lastAccess: (path) => this.accessed.get(path),
    commit: (request) => this.commitNow(request),
  };

  async getMeta(path: string): Promise<StreamMeta | undefined> {
    return this.visibleMeta(path);
  }

  /** Metadata readers see; a subclass that makes commits durable later shows the last durable one. */
  protected visibleMeta(path: string): StreamMeta | undefined {
    return this.entries.get(path)?.meta;
  }

  /** Applies and announces a commit at once: memory is as durable as it gets. */
  protected commitNow(request: CommitRequest): false | { durable: Promise<void> | undefined } {
    if (!this.apply(request)) return false;
    this.emit(request.path);
    return { durable: undefined };
  }

  async getLatestMeta(path: string): Promise<StreamMeta | undefined> {
    return this.entries.get(path)?.meta;
  }

  async readMessages(path: string, after: string, upTo?: string): Promise<StoredMessage[]> {
    const entry = this.entries.get(path);
    return entry ? sliceMessages(entry.messages, after, upTo) : [];
  }

  async commit(request: CommitRequest): Promise<false | { durable: Promise<void> }> {
    const outcome = this.commitNow(request);
    return outcome && { durable: outcome.durable ?? Promise.resolve() };
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

  async listStreams(prefix: string): Promise<string[]> {
    const paths: string[] = [];
    for (const [path, entry] of this.entries) {
      if (path.startsWith(prefix) && !entry.meta.softDeleted) paths.push(path);
    }
    return paths;
  }

  async getRecord(key: string): Promise<ControlRecord | undefined> {
    return this.records.get(key);
  }

  async putRecord(key: string, expectedVersion: number, value: string | null): Promise<boolean> {
    if (!this.applyRecord(key, expectedVersion, value)) return false;
    this.emitRecord(key);
    return true;
  }

  /** Synchronous compare-and-set of a record; used by subclasses that add durability. */
  protected applyRecord(key: string, expectedVersion: number, value: string | null): boolean {
    if ((this.records.get(key)?.version ?? 0) !== expectedVersion) return false;
    if (value === null) this.records.delete(key);
    else this.records.set(key, { key, version: expectedVersion + 1, value });
    return true;
  }

  protected emitRecord(key: string): void {
    for (const listener of this.recordListeners) listener(key);
  }

  async listRecords(prefix: string): Promise<ControlRecord[]> {
    return [...this.records.values()].filter((record) => record.key.startsWith(prefix));
  }

  onRecordChange(listener: (key: string) => void): () => void {
    this.recordListeners.add(listener);
    return () => this.recordListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.recordListeners.clear();
  }
}
