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
  entries: LogEntry[];
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
    let text = "";
    let pos = this.size;
    for (const entry of entries) {
      const line = `${formatOffset(entry.offset)} ${entry.json}\n`;
      this.noteEntry(entry.offset, pos);
      pos += Buffer.byteLength(line);
      text += line;
    }
    const bytes = Buffer.from(text);
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
    if (this.last === null || compareOffsets(this.last, after) <= 0) return { entries: [], more: false };
    return this.withFd((fd) => this.readFrom(fd, after, maxBytes));
  }

  private readFrom(fd: number, after: Offset, maxBytes: number): ReadResult {
    let start = 0;
    for (const point of this.index) {
      if (compareOffsets(point.offset, after) <= 0) start = point.pos;
      else break;
    }
    const entries: LogEntry[] = [];
    let bytes = 0;
    let pos = start;
    let carry = "";
    const buffer = Buffer.alloc(Math.min(READ_CHUNK, Math.max(1, this.size - start)));
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
        const offset = parseOffset(text.slice(lineStart, space));
        if (compareOffsets(offset, after) > 0) {
          if (bytes > 0 && bytes + (nl - space) > maxBytes) return { entries, more: true };
          entries.push({ offset, json: text.slice(space + 1, nl) });
          bytes += nl - space;
        }
        lineStart = nl + 1;
      }
      carry = text.slice(lineStart);
    }
    return { entries, more: false };
  }

  /** Flushes the file to disk. */
  sync(): void {
    if (existsSync(this.path)) this.withFd((fd) => fsyncSync(fd));
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
