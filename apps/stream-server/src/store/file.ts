import { mkdirSync } from "node:fs";
import { type FileHandle, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { MemoryBackend, sliceMessages } from "./memory";
import type { CommitRequest, StoredMessage, StreamMeta } from "./types";

/**
 * Durable streams on local disk. Every commit is a record in an append-only segment file
 * (`segment-000001.log`, a new one every `segmentBytes`); a commit is acknowledged only after
 * fdatasync, and the fsyncs of concurrent commits are batched (group commit). At start the
 * segments are replayed into memory; a torn record at the tail (a crash mid-write) is cut off.
 *
 * Compaction: when a segment fills, at least `compactAfterSegments` segments have accumulated
 * since the last snapshot and the bytes on disk are more than twice what is live, the state that
 * the closed segments (1..K-1) describe is rebuilt from disk, off the append path, and written as
 * `snapshot-K.log` (through a `.tmp` file, fsync and rename); then segments below K and older
 * snapshots are deleted. At start the newest snapshot is loaded and only segments from K on are
 * replayed. A crash at any step leaves either the old files or the new snapshot, both complete.
 *
 * Record: u32 length of the rest | u32 crc32 of the rest | u32 header length | header JSON | message bytes.
 */
const SEGMENT_PREFIX = "segment-";
const SNAPSHOT_PREFIX = "snapshot-";
const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const DEFAULT_COMPACT_AFTER_SEGMENTS = 4;

interface RecordHeader {
  path: string;
  meta: StreamMeta | null;
  sizes: number[];
  offsets: string[];
  /** Set on a control record write (subscriptions, keys) instead of a stream commit. */
  control?: { key: string; version: number; value: string | null };
}

interface Pending {
  buffers: Buffer[];
  resolve: () => void;
  reject: (error: Error) => void;
}

export class FileBackend extends MemoryBackend {
  override readonly kind = "file" as const;
  /** Metadata and tails readers may see: only durable commits. */
  private readonly visible = new Map<string, StreamMeta>();
  private queue: Pending[] = [];
  private flushing = false;
  private handle!: FileHandle;
  private segmentNumber = 0;
  private segmentSize = 0;
  private closed = false;
  /** The first segment the newest snapshot does not cover (1 without a snapshot). */
  private baseSegment = 1;
  /** Bytes of the snapshot and segments on disk. */
  private diskBytes = 0;
  /** A compaction under way, if any. */
  private compacting: Promise<void> | undefined;
  /** Message bytes of the streams that exist (what a snapshot would hold, metadata aside). */
  private liveBytes = 0;
  /** The last compaction's failure, if it failed (the files it would have replaced are intact). */
  compactionError: Error | undefined;

  private constructor(
    private readonly dir: string,
    private readonly fsync: boolean,
    private readonly segmentBytes: number,
    private readonly compactAfterSegments: number,
  ) {
    super();
  }

  static async open(options: {
    dir: string;
    fsync?: boolean;
    segmentBytes?: number;
    /** Segments since the last snapshot before a compaction is considered; 0 turns it off. */
    compactAfterSegments?: number;
  }): Promise<FileBackend> {
    mkdirSync(options.dir, { recursive: true });
    const backend = new FileBackend(
      options.dir,
      options.fsync ?? true,
      options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
      options.compactAfterSegments ?? DEFAULT_COMPACT_AFTER_SEGMENTS,
    );
    await backend.replay();
    return backend;
  }

  /** Files on disk, for operators and tests. */
  get files(): { baseSegment: number; segment: number; diskBytes: number } {
    return { baseSegment: this.baseSegment, segment: this.segmentNumber, diskBytes: this.diskBytes };
  }

  /** Resolves when no compaction is under way. */
  async settled(): Promise<void> {
    while (this.compacting) await this.compacting;
  }

  protected override visibleMeta(path: string): StreamMeta | undefined {
    return this.visible.get(path);
  }

  override async readMessages(path: string, after: string, upTo?: string): Promise<StoredMessage[]> {
    const meta = this.visible.get(path);
    const entry = this.entries.get(path);
    if (!meta || !entry) return [];
    const cap = upTo === undefined || upTo > meta.tailOffset ? meta.tailOffset : upTo;
    return sliceMessages(entry.messages, after, cap);
  }

  /** Applies the commit in memory and queues its record; readers see it once it is on disk. */
  protected override commitNow(request: CommitRequest): false | { durable: Promise<void> } {
    if (this.closed) throw new Error("storage is closed");
    if (!this.apply(request)) return false;
    const durable = this.append(encodeRecord(request)).then(() => {
      if (request.meta === null) this.visible.delete(request.path);
      else this.visible.set(request.path, request.meta);
      this.emit(request.path);
    });
    return { durable };
  }

  override async putRecord(key: string, expectedVersion: number, value: string | null): Promise<boolean> {
    if (this.closed) throw new Error("storage is closed");
    if (!this.applyRecord(key, expectedVersion, value)) return false;
    const header: RecordHeader = {
      path: "",
      meta: null,
      sizes: [],
      offsets: [],
      control: { key, version: expectedVersion + 1, value },
    };
    await this.append(encodeHeader(header, []));
    this.emitRecord(key);
    return true;
  }

  override async close(): Promise<void> {
    this.closed = true;
    await this.settled();
    // Yield to I/O while a flush runs (awaiting flush() then returns at once and would spin).
    while (this.flushing || this.queue.length > 0) {
      if (this.flushing) await new Promise((resolve) => setImmediate(resolve));
      else await this.flush();
    }
    await this.handle?.close();
    await super.close();
  }

  private append(buffers: Buffer[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ buffers, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Writes every queued record, then one fdatasync for all of them. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          const data = Buffer.concat(batch.flatMap((p) => p.buffers));
          const bytes = data.byteLength;
          if (this.segmentSize > 0 && this.segmentSize + bytes > this.segmentBytes) await this.rotate();
          let written = 0;
          while (written < bytes) {
            written += (await this.handle.write(data, written, bytes - written)).bytesWritten;
          }
          this.segmentSize += bytes;
          this.diskBytes += bytes;
          if (this.fsync) await this.handle.datasync();
          for (const pending of batch) pending.resolve();
        } catch (error) {
          for (const pending of batch) pending.reject(error as Error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async rotate(): Promise<void> {
    if (this.fsync) await this.handle.datasync();
    await this.handle.close();
    this.segmentNumber += 1;
    this.segmentSize = 0;
    this.handle = await open(this.segmentPath(this.segmentNumber), "a");
    if (this.shouldCompact()) {
      const upTo = this.segmentNumber;
      this.compacting = this.compact(upTo)
        .catch((error: Error) => {
          // The old files are intact; the next filled segment tries again.
          this.compactionError = error;
        })
        .finally(() => {
          this.compacting = undefined;
        });
    }
  }

  private shouldCompact(): boolean {
    if (this.compacting || this.closed || this.compactAfterSegments <= 0) return false;
    if (this.segmentNumber - this.baseSegment < this.compactAfterSegments) return false;
    return this.diskBytes > 2 * this.liveBytes;
  }

  protected override apply(request: CommitRequest): boolean {
    const before = request.meta === null ? this.entries.get(request.path) : undefined;
    if (!super.apply(request)) return false;
    if (before) for (const message of before.messages) this.liveBytes -= message.data.byteLength;
    for (const message of request.messages ?? []) this.liveBytes += message.data.byteLength;
    return true;
  }

  /**
   * Writes `snapshot-<upTo>.log`: the state described by the snapshot and segments below `upTo`,
   * read back from disk (what is on disk is exactly what has been acknowledged), then deletes them.
   */
  private async compact(upTo: number): Promise<void> {
    const scratch = new FileBackend(this.dir, this.fsync, this.segmentBytes, 0);
    const sources = [
      ...(this.baseSegment > 1 ? [this.snapshotPath(this.baseSegment)] : []),
      ...Array.from({ length: upTo - this.baseSegment }, (_, i) => this.segmentPath(this.baseSegment + i)),
    ];
    for (const source of sources) {
      const data = await readFile(source);
      if (scratch.replaySegment(data) !== data.byteLength) throw new Error(`${source} is not whole`);
    }
    const tmp = `${this.snapshotPath(upTo)}.tmp`;
    const handle = await open(tmp, "w");
    let written = 0;
    try {
      for (const buffers of scratch.snapshotRecords()) {
        const data = Buffer.concat(buffers);
        for (let at = 0; at < data.byteLength; ) {
          at += (await handle.write(data, at, data.byteLength - at)).bytesWritten;
        }
        written += data.byteLength;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.snapshotPath(upTo));
    await this.syncDir();
    const removedBytes = (
      await Promise.all(sources.map((source) => stat(source).then((st) => st.size)))
    ).reduce((sum, size) => sum + size, 0);
    this.baseSegment = upTo;
    this.diskBytes += written - removedBytes;
    for (const source of sources) await rm(source, { force: true });
    await this.syncDir();
  }

  /** Every live stream as one record (its whole log and latest metadata), then every control record. */
  private *snapshotRecords(): Generator<Buffer[]> {
    for (const [path, entry] of this.entries) {
      yield encodeRecord({ path, expectedVersion: 0, meta: entry.meta, messages: entry.messages });
    }
    for (const record of this.records.values()) {
      yield encodeHeader({ path: "", meta: null, sizes: [], offsets: [], control: record }, []);
    }
  }

  private async syncDir(): Promise<void> {
    if (!this.fsync) return;
    const handle = await open(this.dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private segmentPath(n: number): string {
    return join(this.dir, `${SEGMENT_PREFIX}${String(n).padStart(6, "0")}.log`);
  }

  private snapshotPath(n: number): string {
    return join(this.dir, `${SNAPSHOT_PREFIX}${String(n).padStart(6, "0")}.log`);
  }

  private async replay(): Promise<void> {
    const all = await readdir(this.dir);
    const numbered = (prefix: string) =>
      all
        .filter((n) => n.startsWith(prefix) && n.endsWith(".log"))
        .map((n) => Number(n.slice(prefix.length, -4)))
        .filter((n) => Number.isInteger(n) && n > 0)
        .sort((a, b) => a - b);
    // Leftovers of an interrupted compaction: an unfinished snapshot, or files a finished one covers.
    for (const name of all.filter((n) => n.startsWith(SNAPSHOT_PREFIX) && n.endsWith(".tmp"))) {
      await rm(join(this.dir, name), { force: true });
    }
    const snapshots = numbered(SNAPSHOT_PREFIX);
    const base = snapshots.at(-1);
    if (base !== undefined) {
      const data = await readFile(this.snapshotPath(base));
      // A snapshot is renamed into place only once whole and synced: a bad one is damage, not a crash.
      if (this.replaySegment(data) !== data.byteLength) {
        throw new Error(`${this.snapshotPath(base)} is damaged; refusing to start on partial data`);
      }
      this.baseSegment = base;
      this.diskBytes = data.byteLength;
      for (const older of snapshots.slice(0, -1)) await rm(this.snapshotPath(older), { force: true });
    }
    for (const n of numbered(SEGMENT_PREFIX)) {
      if (n < this.baseSegment) {
        await rm(this.segmentPath(n), { force: true });
        continue;
      }
      const data = await readFile(this.segmentPath(n));
      const validBytes = this.replaySegment(data);
      this.segmentNumber = n;
      this.segmentSize = validBytes;
      this.diskBytes += validBytes;
      if (validBytes < data.byteLength) {
        const h = await open(this.segmentPath(n), "r+");
        await h.truncate(validBytes);
        await h.sync();
        await h.close();
      }
    }
    if (this.segmentNumber < this.baseSegment) this.segmentNumber = this.baseSegment;
    this.handle = await open(this.segmentPath(this.segmentNumber), "a");
  }

  /** Applies every complete record; returns the byte length of the valid prefix. */
  private replaySegment(data: Buffer): number {
    let at = 0;
    while (at + 8 <= data.byteLength) {
      const length = data.readUInt32LE(at);
      const end = at + 8 + length;
      if (end > data.byteLength) break;
      const rest = data.subarray(at + 8, end);
      if (crc32(rest) !== data.readUInt32LE(at + 4)) break;
      const headerLength = rest.readUInt32LE(0);
      const header = JSON.parse(rest.subarray(4, 4 + headerLength).toString("utf8")) as RecordHeader;
      if (header.control) {
        // The log is authoritative: each record sets its version (a snapshot holds only the last).
        const { key, version, value } = header.control;
        if (value === null) this.records.delete(key);
        else this.records.set(key, { key, version, value });
        at = end;
        continue;
      }
      let cursor = 4 + headerLength;
      const messages: StoredMessage[] = header.sizes.map((size, i) => {
        const message = {
          offset: header.offsets[i] as string,
          data: Buffer.from(rest.subarray(cursor, cursor + size)),
        };
        cursor += size;
        return message;
      });
      const expectedVersion = this.entries.get(header.path)?.meta.version ?? 0;
      this.apply({ path: header.path, expectedVersion, meta: header.meta, messages });
      if (header.meta === null) this.visible.delete(header.path);
      else this.visible.set(header.path, header.meta);
      at = end;
    }
    return at;
  }
}

function encodeRecord(request: CommitRequest): Buffer[] {
  const messages = request.messages ?? [];
  const header: RecordHeader = {
    path: request.path,
    meta: request.meta,
    sizes: messages.map((m) => m.data.byteLength),
    offsets: messages.map((m) => m.offset),
  };
  return encodeHeader(header, messages);
}

function encodeHeader(header: RecordHeader, messages: StoredMessage[]): Buffer[] {
  const headerBytes = Buffer.from(JSON.stringify(header));
  const headerLength = Buffer.alloc(4);
  headerLength.writeUInt32LE(headerBytes.byteLength);
  const rest = Buffer.concat([headerLength, headerBytes, ...messages.map((m) => m.data)]);
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32LE(rest.byteLength, 0);
  prefix.writeUInt32LE(crc32(rest), 4);
  return [prefix, rest];
}
