import { rmSync } from "node:fs";
import path from "node:path";
import {
  changeMessages,
  type RowChange,
  type ShapeView,
  snapshotEndMessage,
  snapshotMessage,
} from "../protocol/messages";
import { compareOffsets, type Offset, SNAPSHOT_END } from "../protocol/offset";
import type { Row } from "../protocol/where";
import type { XidSnapshot } from "../replication/catalog";
import { visibleIn } from "../replication/catalog";
import type { Transaction } from "../replication/stream";
import { type LogEntry, LogFile } from "../store/log-file";
import type { ShapeDefinition } from "./definition";

export interface ShapeMeta {
  handle: string;
  definition: ShapeDefinition;
  /** Every column of the table when the shape was made, to notice schema changes. */
  tableColumns: Array<{ name: string; typeOid: number }>;
  snapshot: XidSnapshot;
  /** WAL insert position read inside the snapshot: later commits are never in it. */
  snapshotWalLsn: string;
  createdAt: string;
}

export interface ReadChunk {
  messages: string[];
  /** Offset of the last message returned, or the requested one when nothing is new. */
  last: Offset;
  /** True when the chunk reached the end of the log. */
  upToDate: boolean;
}

type WaitResult = "changed" | "timeout" | "deleted" | "aborted";

/**
 * One shape: its snapshot and change log on disk, the transactions buffered
 * while its snapshot is taken, and the requests waiting for its next change.
 */
export class Shape {
  state: "snapshotting" | "live" | "deleted" = "snapshotting";
  private buffer: Transaction[] = [];
  private readonly waiters = new Set<(result: WaitResult) => void>();
  readonly snapshotLog: LogFile;
  readonly changeLog: LogFile;
  private snapshotRows = 0;
  meta: ShapeMeta | null = null;
  /** When a request or a change last touched the shape (ms since epoch). */
  lastUsed = Date.now();

  constructor(
    readonly handle: string,
    readonly definition: ShapeDefinition,
    readonly view: ShapeView,
    readonly dir: string,
  ) {
    this.snapshotLog = new LogFile(path.join(dir, "snapshot.log"));
    this.changeLog = new LogFile(path.join(dir, "changes.log"));
  }

  /** Rows of the initial snapshot, at offsets 0_0, 0_1, ... */
  appendSnapshotRows(rows: readonly Row[]): void {
    // Built as text: the snapshot is the hot path of a shape's first request.
    const headers = JSON.stringify({ operation: "insert", relation: [this.view.schema, this.view.table] });
    const entries: LogEntry[] = rows.map((row) => {
      const message = snapshotMessage(this.view, row);
      return {
        offset: { tx: 0n, op: this.snapshotRows++ },
        json: `{"key":${JSON.stringify(message.key)},"value":${JSON.stringify(message.value)},"headers":${headers}}`,
      };
    });
    this.snapshotLog.append(entries);
  }

  /** While snapshotting, transactions wait here; afterwards they are applied. True when the log grew. */
  receive(txn: Transaction, changes: readonly RowChange[]): boolean {
    if (this.state === "live") return this.apply(txn, changes);
    if (this.state === "snapshotting")
      this.buffer.push({ ...txn, changes: changes as Transaction["changes"] });
    return false;
  }

  /** Ends the snapshot: applies what arrived meanwhile and goes live. */
  goLive(meta: ShapeMeta): void {
    this.meta = meta;
    this.state = "live";
    const buffered = this.buffer;
    this.buffer = [];
    for (const txn of buffered) this.apply(txn, txn.changes);
  }

  /** Restores a shape written by an earlier run. */
  restore(meta: ShapeMeta): void {
    this.meta = meta;
    this.state = "live";
  }

  private apply(txn: Transaction, changes: readonly RowChange[]): boolean {
    const meta = this.meta;
    if (!meta) return false;
    this.lastUsed = Date.now();
    const log = this.changeLog.open();
    // Redelivered after a restart or reconnect: already in the log.
    if (log.last && txn.lsn <= log.last.tx) return false;
    // Committed before the snapshot: its effect is already in the snapshot rows.
    if (txn.lsn < BigInt(meta.snapshotWalLsn) && visibleIn(meta.snapshot, txn.xid)) return false;
    const messages = changes.flatMap((change) => changeMessages(this.view, change));
    if (messages.length === 0) return false;
    const relation = [this.view.schema, this.view.table];
    const entries = messages.map((message, i) => ({
      offset: { tx: txn.lsn, op: i + 1 },
      json: JSON.stringify({
        ...message,
        headers: {
          operation: message.operation,
          relation,
          lsn: String(txn.lsn),
          op_position: i + 1,
          txids: [txn.xid],
          ...(i === messages.length - 1 ? { last: true } : {}),
        },
      }),
    }));
    log.append(entries);
    this.notify("changed");
    return true;
  }

  /** The tail of the log: where a request at `now` starts. */
  tail(): Offset {
    const log = this.changeLog.open();
    return log.last ?? SNAPSHOT_END;
  }

  /** Messages after `after`: the snapshot rows, then `snapshot-end`, then the changes. */
  read(after: Offset, maxBytes: number): ReadChunk {
    this.lastUsed = Date.now();
    const messages: string[] = [];
    let last = after;
    let budget = maxBytes;
    if (compareOffsets(after, SNAPSHOT_END) < 0) {
      const snapshot = this.snapshotLog.read(after, budget);
      for (const message of snapshot.messages) {
        messages.push(message);
        budget -= message.length;
      }
      if (snapshot.more) return { messages, last: snapshot.last ?? after, upToDate: false };
      const meta = this.meta;
      if (meta) {
        messages.push(
          snapshotEndMessage({
            xmin: String(meta.snapshot.xmin),
            xmax: String(meta.snapshot.xmax),
            xipList: meta.snapshot.xip.map(String),
          }),
        );
      }
      last = SNAPSHOT_END;
    }
    const changes = this.changeLog.read(last, Math.max(budget, 1));
    for (const message of changes.messages) messages.push(message);
    if (changes.last) last = changes.last;
    return { messages, last, upToDate: !changes.more };
  }

  /** Resolves on the next change, on deletion, after `timeoutMs`, or when `signal` aborts. */
  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<WaitResult> {
    if (this.state === "deleted") return Promise.resolve("deleted");
    return new Promise((resolve) => {
      const done = (result: WaitResult) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.waiters.delete(done);
        resolve(result);
      };
      const onAbort = () => done("aborted");
      const timer = setTimeout(() => done("timeout"), timeoutMs);
      signal?.addEventListener("abort", onAbort);
      this.waiters.add(done);
    });
  }

  get waiting(): number {
    return this.waiters.size;
  }

  private notify(result: WaitResult): void {
    for (const waiter of [...this.waiters]) waiter(result);
  }

  /** Forgets the in-memory indexes of an idle shape (they are rebuilt from disk on next use). */
  release(idleForMs: number, now = Date.now()): boolean {
    if (this.state !== "live" || this.waiters.size > 0 || now - this.lastUsed < idleForMs) return false;
    this.snapshotLog.close();
    this.changeLog.close();
    return true;
  }

  delete(): void {
    this.state = "deleted";
    this.buffer = [];
    this.notify("deleted");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
