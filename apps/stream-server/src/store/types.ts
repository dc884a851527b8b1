/**
 * The one storage interface. Backends store each stream's metadata and its own messages and
 * commit both atomically with a version check; the protocol semantics (producers, closing, forks,
 * expiry) live once in `streams/engine.ts` above them.
 */
export interface ProducerState {
  epoch: number;
  lastSeq: number;
  lastUpdated: number;
}

export interface StreamMeta {
  path: string;
  /** Bumped by every commit; the compare-and-set key. */
  version: number;
  contentType: string;
  createdAt: number;
  /** Offset after the last message (the fork offset when a fork has no messages of its own). */
  tailOffset: string;
  ttlSeconds?: number;
  expiresAt?: string;
  closed: boolean;
  closedBy?: { producerId: string; epoch: number; seq: number };
  lastSeq?: string;
  producers: Record<string, ProducerState>;
  forkedFrom?: string;
  forkOffset?: string;
  forkSubOffset?: number;
  /** Live forks that read through this stream. */
  refCount: number;
  /** Deleted or expired while forks still read through it. */
  softDeleted: boolean;
}

export interface StoredMessage {
  /** Offset after this message. */
  offset: string;
  data: Uint8Array;
}

export interface CommitRequest {
  path: string;
  /** Version the caller read; 0 when the stream must not exist. */
  expectedVersion: number;
  /** New metadata, or null to delete the stream and its messages. */
  meta: StreamMeta | null;
  messages?: StoredMessage[];
}

/** A small JSON document beside the streams (subscriptions, server keys), written with compare-and-set. */
export interface ControlRecord {
  key: string;
  /** Bumped by every write; 0 means absent. */
  version: number;
  value: string;
}

/**
 * What a backend that holds every stream in this process (memory, file) offers synchronously, so an
 * uncontended append can be served without awaiting.
 */
export interface LocalView {
  /** Durable, visible metadata (as `getMeta`). */
  meta(path: string): StreamMeta | undefined;
  /** Metadata including commits not yet durable (as `getLatestMeta`). */
  latestMeta(path: string): StreamMeta | undefined;
  lastAccess(path: string): number | undefined;
  /** As `commit`; `durable` is undefined when the commit is durable already (memory). */
  commit(request: CommitRequest): false | { durable: Promise<void> | undefined };
}

export interface StreamBackend {
  readonly kind: "memory" | "file" | "redis";
  /** Present on backends whose state is all in this process. */
  readonly local?: LocalView;
  /** Durable, visible metadata. */
  getMeta(path: string): Promise<StreamMeta | undefined>;
  /** Metadata including commits not yet durable: what writers compare against. */
  getLatestMeta(path: string): Promise<StreamMeta | undefined>;
  /** This stream's own messages with offset > after and <= upTo (visible ones only). */
  readMessages(path: string, after: string, upTo?: string): Promise<StoredMessage[]>;
  /**
   * Atomically applies the commit if the version still matches (false on conflict). The returned
   * promise settles once the commit is durable and visible to readers; callers acknowledge after it.
   */
  commit(request: CommitRequest): Promise<false | { durable: Promise<void> }>;
  /** Records a read or write access (sliding TTL). */
  touch(path: string, at: number): void;
  lastAccess(path: string): Promise<number | undefined>;
  /** Calls the listener with a path after any commit to it, from any instance. */
  onChange(listener: (path: string) => void): () => void;
  /** Paths of the streams whose path starts with `prefix`. */
  listStreams(prefix: string): Promise<string[]>;
  getRecord(key: string): Promise<ControlRecord | undefined>;
  /** Writes (or, with null, deletes) a record if its version is still `expectedVersion`; false on conflict. */
  putRecord(key: string, expectedVersion: number, value: string | null): Promise<boolean>;
  listRecords(prefix: string): Promise<ControlRecord[]>;
  /** Calls the listener with a record key after any write to it, from any instance. */
  onRecordChange(listener: (key: string) => void): () => void;
  close(): Promise<void>;
}
