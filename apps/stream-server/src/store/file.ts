import { mkdirSync } from "node:fs";
import { type FileHandle, open, readdir, readFile } from "node:fs/promises";
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
 * Record: u32 length of the rest | u32 crc32 of the rest | u32 header length | header JSON | message bytes.
 */
const SEGMENT_PREFIX = "segment-";
const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

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

  private constructor(
    private readonly dir: string,
    private readonly fsync: boolean,
    private readonly segmentBytes: number,
  ) {
    super();
  }

  static async open(options: { dir: string; fsync?: boolean; segmentBytes?: number }): Promise<FileBackend> {
    mkdirSync(options.dir, { recursive: true });
    const backend = new FileBackend(
      options.dir,
      options.fsync ?? true,
      options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
    );
    await backend.replay();
    return backend;
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
  }

  private segmentPath(n: number): string {
    return join(this.dir, `${SEGMENT_PREFIX}${String(n).padStart(6, "0")}.log`);
  }

  private async replay(): Promise<void> {
    const names = (await readdir(this.dir))
      .filter((n) => n.startsWith(SEGMENT_PREFIX) && n.endsWith(".log"))
      .sort();
    for (const name of names) {
      const n = Number(name.slice(SEGMENT_PREFIX.length, -4));
      const data = await readFile(join(this.dir, name));
      const validBytes = this.replaySegment(data);
      this.segmentNumber = n;
      this.segmentSize = validBytes;
      if (validBytes < data.byteLength) {
        const h = await open(join(this.dir, name), "r+");
        await h.truncate(validBytes);
        await h.sync();
        await h.close();
      }
    }
    if (this.segmentNumber === 0) this.segmentNumber = 1;
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
        const { key, version, value } = header.control;
        this.applyRecord(key, version - 1, value);
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
