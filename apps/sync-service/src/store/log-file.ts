import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
} from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { compareOffsets, formatOffset, type Offset, parseOffset } from "../protocol/offset";

/** Every how many entries the in-memory index remembers a byte position. */
const INDEX_EVERY = 64;
const READ_CHUNK = 1 << 20;

export interface LogEntry {
  offset: Offset;
  /** The message, already serialised. */
  json: string;
}

export interface ReadResult {
  /** The messages, serialised, in log order. */
  messages: string[];
  /** Offset of the last message returned. */
  last: Offset | null;
  /** True when the read stopped at the byte limit before the end of the log. */
  more: boolean;
}

/**
 * An append-only file of `<offset> <json>\n` lines. Memory per log is a sparse
 * index (one position every 64 entries) and the last offset, whatever the
 * log's length, so idle shapes cost little.
 */
export class LogFile {
  private indexed = false;
  private size = 0;
  private count = 0;
  private readonly index: Array<{ offset: Offset; pos: number }> = [];
  last: Offset | null = null;

  constructor(readonly path: string) {}

  /**
   * File descriptors are opened per operation, never held: a thousand idle
   * shapes hold no descriptors.
   */
  private withFd<T>(fn: (fd: number) => T): T {
    const fd = openSync(this.path, existsSync(this.path) ? "r+" : "w+");
    try {
      return fn(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Indexes the file (creating it if needed); a torn last line from a crash is cut off. */
  open(): this {
    if (this.indexed) return this;
    this.withFd((fd) => this.scan(fd));
    this.indexed = true;
    return this;
  }

  private scan(fd: number): void {
    const total = fstatSync(fd).size;
    let pos = 0;
    let carry = "";
    let carryStart = 0;
    const buffer = Buffer.alloc(READ_CHUNK);
    while (pos < total) {
      const n = readSync(fd, buffer, 0, Math.min(READ_CHUNK, total - pos), pos);
      if (n <= 0) break;
      const text = carry + buffer.toString("utf8", 0, n);
      let lineStart = 0;
      let byteCursor = carryStart;
      for (;;) {
        const nl = text.indexOf("\n", lineStart);
        if (nl < 0) break;
        const line = text.slice(lineStart, nl);
        this.noteEntry(parseOffset(line.slice(0, line.indexOf(" "))), byteCursor);
        byteCursor += Buffer.byteLength(line) + 1;
        lineStart = nl + 1;
      }
      carry = text.slice(lineStart);
      carryStart = byteCursor;
      pos += n;
    }
    this.size = carryStart;
    if (this.size < total) ftruncateSync(fd, this.size);
  }

  private noteEntry(offset: Offset, pos: number): void {
    if (this.count % INDEX_EVERY === 0) this.index.push({ offset, pos });
    this.count++;
    this.last = offset;
  }

  append(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    this.open();
    const lines: string[] = [];
    let pending = 0;
    let pos = this.size;
    let txText = "";
    let txValue: bigint | null = null;
    for (const entry of entries) {
      if (this.count % INDEX_EVERY === 0) {
        // Byte positions are only needed at index points: measure the lines since the last one.
        pos += Buffer.byteLength(lines.slice(pending).join(""));
        pending = lines.length;
        this.index.push({ offset: entry.offset, pos });
      }
      this.count++;
      this.last = entry.offset;
      if (entry.offset.tx !== txValue) {
        txValue = entry.offset.tx;
        txText = formatOffset({ tx: txValue, op: 0 }).slice(0, -1);
      }
      lines.push(
        `${txText}${entry.offset.op === Number.POSITIVE_INFINITY ? "inf" : entry.offset.op} ${entry.json}\n`,
      );
    }
    const bytes = Buffer.from(lines.join(""));
    this.withFd((fd) => {
      let written = 0;
      while (written < bytes.length)
        written += writeSync(fd, bytes, written, bytes.length - written, this.size + written);
    });
    this.size += bytes.length;
  }

  get entryCount(): number {
    return this.count;
  }

  /** Entries strictly after `after`, up to about `maxBytes`. */
  read(after: Offset, maxBytes: number): ReadResult {
    this.open();
    if (this.last === null || compareOffsets(this.last, after) <= 0)
      return { messages: [], last: null, more: false };
    return this.withFd((fd) => this.readFrom(fd, after, maxBytes));
  }

  private readFrom(fd: number, after: Offset, maxBytes: number): ReadResult {
    let start = 0;
    for (const point of this.index) {
      if (compareOffsets(point.offset, after) <= 0) start = point.pos;
      else break;
    }
    const messages: string[] = [];
    let lastText: string | null = null;
    let bytes = 0;
    let pos = start;
    let carry = "";
    // The log is in offset order: once one line is past `after`, every later one is too.
    let past = false;
    const buffer = Buffer.alloc(Math.min(READ_CHUNK, Math.max(1, this.size - start)));
    const result = (more: boolean): ReadResult => ({
      messages,
      last: lastText === null ? null : parseOffset(lastText),
      more,
    });
    while (pos < this.size) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, this.size - pos), pos);
      if (n <= 0) break;
      pos += n;
      const text = carry + buffer.toString("utf8", 0, n);
      let lineStart = 0;
      for (;;) {
        const nl = text.indexOf("\n", lineStart);
        if (nl < 0) break;
        const space = text.indexOf(" ", lineStart);
        if (!past) past = compareOffsets(parseOffset(text.slice(lineStart, space)), after) > 0;
        if (past) {
          if (bytes > 0 && bytes + (nl - space) > maxBytes) return result(true);
          messages.push(text.slice(space + 1, nl));
          lastText = text.slice(lineStart, space);
          bytes += nl - space;
        }
        lineStart = nl + 1;
      }
      carry = text.slice(lineStart);
    }
    return result(false);
  }

  /** Flushes the file to disk (blocking). */
  sync(): void {
    if (existsSync(this.path)) this.withFd((fd) => fsyncSync(fd));
  }

  /** Flushes the file to disk on the thread pool, off the event loop; a deleted file is fine. */
  async syncAsync(): Promise<void> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(this.path, "r+");
      await handle.sync();
    } catch (error) {
      if ((error as { code?: string }).code !== "ENOENT") throw error;
    } finally {
      await handle?.close();
    }
  }

  /** Forgets the index (an idle shape's memory); the next use re-reads the file. */
  close(): void {
    this.indexed = false;
    this.index.length = 0;
    this.count = 0;
    this.size = 0;
    this.last = null;
  }
}
