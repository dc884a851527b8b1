import { badRequest, conflict, gone, notFound, StreamError } from "../protocol/errors";
import { isJsonContentType, normalizeContentType, splitJsonAppend } from "../protocol/json";
import { bytePosition, formatOffset, ZERO_OFFSET } from "../protocol/offset";
import type { CommitRequest, StoredMessage, StreamBackend, StreamMeta } from "../store/types";
import { Fanout } from "./fanout";
import { KeyedMutex } from "./mutex";
import { type ProducerHeaders, validateProducer } from "./producers";
import { Waiters, type WaitResult } from "./waiters";

/**
 * The protocol semantics of PROTOCOL.md over any backend: create (with forks), append (with
 * Stream-Seq, idempotent producers, closing), read through fork chains, delete with fork
 * reference counting, TTL and Expires-At, and waiting for changes.
 */
export interface CreateOptions {
  contentType?: string;
  ttlSeconds?: number;
  expiresAt?: string;
  initialData?: Uint8Array;
  closed?: boolean;
  forkedFrom?: string;
  forkOffset?: string;
  forkSubOffset?: number;
}

export interface AppendOptions {
  contentType?: string;
  seq?: string;
  producer?: ProducerHeaders;
  close?: boolean;
}

export type AppendResult =
  | { kind: "appended"; offset: string; closed: boolean }
  | { kind: "duplicate"; offset: string; lastSeq: number; closed: boolean };

const MAX_CAS_ATTEMPTS = 50;

export class StreamEngine {
  readonly waiters = new Waiters();
  /** Live SSE subscribers, woken with the waiters. */
  readonly fanout = new Fanout({ read: (path, after) => this.read(path, after) });
  private readonly mutex = new KeyedMutex();
  /** Streams with an `append` under way, and how many. */
  private readonly appending = new Map<string, number>();
  private readonly unsubscribe: () => void;

  /** When this engine started: access times before it may be lost (see `expiredAt`). */
  private readonly startedAt: number;

  constructor(
    readonly backend: StreamBackend,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.unsubscribe = backend.onChange((path) => {
      this.waiters.wake(path);
      this.fanout.changed(path);
    });
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.waiters.wakeAll();
    this.fanout.endAll();
    await this.backend.close();
  }

  /** Metadata of a live stream: 404 if absent or expired, 410 if soft-deleted. Counts as an access. */
  async get(path: string, touch = true): Promise<StreamMeta> {
    const meta = await this.resolve(path);
    if (!meta) throw notFound();
    if (meta.softDeleted) throw gone();
    if (touch) this.touch(meta);
    return meta;
  }

  /**
   * Records an access for sliding TTL. Only streams with a TTL need one (the TTL is fixed at
   * creation), which spares Redis a write on every append and read of the others.
   */
  private touch(meta: StreamMeta, now = this.now()): void {
    if (meta.ttlSeconds !== undefined) this.backend.touch(meta.path, now);
  }

  /** Metadata after applying expiry; soft-deleted streams are returned as such. */
  private async resolve(path: string): Promise<StreamMeta | undefined> {
    const meta = await this.backend.getMeta(path);
    if (!meta || meta.softDeleted || !(await this.isExpired(meta))) return meta;
    await this.mutex.run(path, () => this.removeLocked(path));
    return this.backend.getMeta(path);
  }

  private async isExpired(meta: StreamMeta): Promise<boolean> {
    const lastAccess = meta.ttlSeconds === undefined ? undefined : await this.backend.lastAccess(meta.path);
    return this.expiredAt(meta, lastAccess, this.now());
  }

  private expiredAt(meta: StreamMeta, lastAccess: number | undefined, now: number): boolean {
    if (meta.expiresAt !== undefined) {
      const at = Date.parse(meta.expiresAt);
      if (!Number.isFinite(at) || now >= at) return true;
    }
    // A backend that does not keep access times (file) forgets them on restart: the restart then
    // counts as the last access, so a stream read just before it is not dropped just after it.
    const since = lastAccess ?? Math.max(meta.createdAt, this.startedAt);
    if (meta.ttlSeconds !== undefined && now >= since + meta.ttlSeconds * 1000) return true;
    return false;
  }

  /**
   * Runs a read-modify-write under the local lock, retrying when another instance won the race.
   * The lock is released before waiting for durability, so concurrent appends share one fsync.
   */
  private async update<T>(path: string, attempt: (commit: Commit) => Promise<T | typeof RETRY>): Promise<T> {
    let durable: Promise<void> | undefined;
    const commit: Commit = async (request) => {
      const outcome = await this.backend.commit(request);
      if (outcome === false) return false;
      durable = outcome.durable;
      return true;
    };
    const result = await this.mutex.run(path, async () => {
      for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
        const value = await attempt(commit);
        if (value !== RETRY) return value as T;
      }
      throw new StreamError(503, "CONTENDED", "stream is too contended, retry");
    });
    if (durable) await durable;
    return result;
  }

  /** A commit outside `update` (under the lock already held): waits for durability itself. */
  private async commitNow(request: CommitRequest): Promise<boolean> {
    const outcome = await this.backend.commit(request);
    if (outcome === false) return false;
    await outcome.durable;
    return true;
  }

  async create(path: string, options: CreateOptions): Promise<{ created: boolean; meta: StreamMeta }> {
    const existing = await this.resolve(path);
    if (existing) {
      if (existing.softDeleted) throw conflict("stream was deleted but still has active forks");
      if (!sameConfig(existing, options))
        throw conflict("stream already exists with different configuration");
      return { created: false, meta: existing };
    }
    const source = options.forkedFrom ? await this.forkSource(options) : undefined;
    const contentType =
      (options.contentType ? normalizeFull(options.contentType) : undefined) ??
      source?.contentType ??
      "application/octet-stream";
    const forkOffset = source ? (options.forkOffset ?? source.tailOffset) : undefined;
    if (source && forkOffset !== undefined && (forkOffset < ZERO_OFFSET || forkOffset > source.tailOffset)) {
      throw badRequest("fork offset beyond source stream length");
    }
    const messages: StoredMessage[] = [];
    let tail = forkOffset ?? ZERO_OFFSET;
    if (source && forkOffset !== undefined && options.forkSubOffset) {
      const prefix = await this.forkPrefix(source, forkOffset, options.forkSubOffset);
      tail = formatOffset(bytePosition(tail) + prefix.byteLength);
      messages.push({ offset: tail, data: prefix });
    }
    if (options.initialData && options.initialData.byteLength > 0) {
      const data = encodeAppend(contentType, options.initialData, true);
      if (data.byteLength > 0) {
        tail = formatOffset(bytePosition(tail) + data.byteLength);
        messages.push({ offset: tail, data });
      }
    }
    const expiry = resolveExpiry(options, source);
    const meta: StreamMeta = {
      path,
      version: 1,
      contentType,
      createdAt: this.now(),
      tailOffset: tail,
      ...expiry,
      closed: options.closed ?? false,
      producers: {},
      refCount: 0,
      softDeleted: false,
      ...(source ? { forkedFrom: source.path, forkOffset } : {}),
      ...(options.forkSubOffset ? { forkSubOffset: options.forkSubOffset } : {}),
    };
    if (source) await this.adjustRefCount(source.path, +1);
    const created = await this.update(path, async (commit) => {
      const current = await this.backend.getLatestMeta(path);
      if (current) return { created: false, meta: current };
      return (await commit({ path, expectedVersion: 0, meta, messages })) ? { created: true, meta } : RETRY;
    });
    if (!created.created) {
      if (source) await this.adjustRefCount(source.path, -1);
      if (!sameConfig(created.meta, options))
        throw conflict("stream already exists with different configuration");
    }
    this.touch(created.meta);
    return created;
  }

  private async forkSource(options: CreateOptions): Promise<StreamMeta> {
    const source = await this.resolve(options.forkedFrom as string);
    if (!source) throw notFound("source stream not found");
    if (source.softDeleted) throw conflict("source stream was deleted but still has active forks");
    if (
      options.contentType &&
      normalizeContentType(options.contentType) !== normalizeContentType(source.contentType)
    ) {
      throw conflict("content type mismatch with source stream");
    }
    return source;
  }

  /** The first `subOffset` bytes (or JSON values) of the source's first message after the fork offset. */
  private async forkPrefix(source: StreamMeta, forkOffset: string, subOffset: number): Promise<Uint8Array> {
    const [first] = await this.readChain(source.path, forkOffset, undefined, 1);
    if (!first) throw badRequest("invalid fork sub-offset: no data past the fork offset");
    if (!isJsonContentType(source.contentType)) {
      if (subOffset > first.data.byteLength) throw badRequest("invalid fork sub-offset: beyond the message");
      return first.data.subarray(0, subOffset);
    }
    const values = JSON.parse(`[${Buffer.from(first.data).toString("utf8").replace(/,$/, "")}]`) as unknown[];
    if (subOffset > values.length) throw badRequest("invalid fork sub-offset: beyond the message count");
    return Buffer.from(
      `${values
        .slice(0, subOffset)
        .map((value) => JSON.stringify(value))
        .join(",")},`,
    );
  }

  private async adjustRefCount(path: string, delta: number): Promise<void> {
    let cascade = false;
    await this.update(path, async (commit) => {
      const meta = await this.backend.getLatestMeta(path);
      if (!meta) return undefined;
      const refCount = Math.max(0, meta.refCount + delta);
      cascade = refCount === 0 && meta.softDeleted;
      const next = { ...meta, version: meta.version + 1, refCount };
      return (await commit({ path, expectedVersion: meta.version, meta: next })) ? undefined : RETRY;
    });
    if (cascade) await this.mutex.run(path, () => this.removeLocked(path));
  }

  async delete(path: string): Promise<void> {
    const meta = await this.backend.getMeta(path);
    if (!meta) throw notFound();
    if (meta.softDeleted) throw gone();
    await this.mutex.run(path, () => this.removeLocked(path));
  }

  /** Deletes a stream, or soft-deletes it while forks read through it; then releases its source. Caller holds the lock. */
  private async removeLocked(path: string): Promise<void> {
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
      const meta = await this.backend.getLatestMeta(path);
      if (!meta) return;
      if (meta.refCount > 0) {
        if (meta.softDeleted) return;
        const next = { ...meta, version: meta.version + 1, softDeleted: true };
        if (await this.commitNow({ path, expectedVersion: meta.version, meta: next })) return;
        continue;
      }
      if (await this.commitNow({ path, expectedVersion: meta.version, meta: null })) {
        if (meta.forkedFrom) await this.adjustRefCount(meta.forkedFrom, -1);
        return;
      }
    }
  }

  async append(path: string, body: Uint8Array, options: AppendOptions): Promise<AppendResult> {
    // Counted from the first step, so that `tryAppendNow` never overtakes an append already begun.
    this.appending.set(path, (this.appending.get(path) ?? 0) + 1);
    try {
      const current = await this.get(path, false);
      const result = await this.update(path, async (commit) => {
        const meta = await this.backend.getLatestMeta(path);
        if (!meta) throw notFound();
        if (meta.softDeleted) throw gone();
        return this.appendLocked(meta, body, options, commit);
      });
      this.touch(current);
      return result;
    } finally {
      const left = (this.appending.get(path) ?? 1) - 1;
      if (left === 0) this.appending.delete(path);
      else this.appending.set(path, left);
    }
  }

  /**
   * `append` in one synchronous step, for a backend that holds its streams in this process when
   * nothing else is in flight on the stream: the same checks (including every protocol error,
   * thrown as from `append`) and the same commit. Undefined when it cannot apply (another backend,
   * a busy stream, a missing, deleted or expiring stream, a lost race): the caller uses `append`.
   * `durable`, when present, must settle before the append is acknowledged.
   */
  tryAppendNow(
    path: string,
    body: Uint8Array,
    options: AppendOptions,
  ): { result: AppendResult; durable: Promise<void> | undefined } | undefined {
    const local = this.backend.local;
    if (!local || this.mutex.isHeld(path) || this.appending.has(path)) return undefined;
    const visible = local.meta(path);
    const meta = local.latestMeta(path);
    if (!visible || !meta || visible.softDeleted || meta.softDeleted) return undefined;
    const now = this.now();
    if (this.expiredAt(meta, local.lastAccess(path), now)) return undefined;
    const plan = planAppend(meta, body, options, now);
    let durable: Promise<void> | undefined;
    if (plan.request) {
      const outcome = local.commit(plan.request);
      if (outcome === false) return undefined;
      durable = outcome.durable;
    }
    this.touch(meta, now);
    return { result: plan.result, durable };
  }

  private async appendLocked(
    meta: StreamMeta,
    body: Uint8Array,
    options: AppendOptions,
    commit: Commit,
  ): Promise<AppendResult | typeof RETRY> {
    const plan = planAppend(meta, body, options, this.now());
    if (!plan.request) return plan.result;
    return (await commit(plan.request)) ? plan.result : RETRY;
  }

  /** Messages after `offset`, through fork chains, and the metadata they were read against. */
  async read(path: string, offset: string): Promise<{ meta: StreamMeta; messages: StoredMessage[] }> {
    const meta = await this.get(path);
    const messages = await this.readChain(path, offset, meta.tailOffset);
    return { meta, messages };
  }

  /** Own and inherited messages of `path` with offset in (after, cap]. Reads through soft-deleted sources. */
  private async readChain(
    path: string,
    after: string,
    cap?: string,
    limit?: number,
  ): Promise<StoredMessage[]> {
    const meta = await this.backend.getMeta(path);
    if (!meta) return [];
    const result: StoredMessage[] = [];
    if (meta.forkedFrom && meta.forkOffset !== undefined && after < meta.forkOffset) {
      const inheritedCap = cap !== undefined && cap < meta.forkOffset ? cap : meta.forkOffset;
      result.push(...(await this.readChain(meta.forkedFrom, after, inheritedCap, limit)));
      if (limit !== undefined && result.length >= limit) return result.slice(0, limit);
    }
    const own = await this.backend.readMessages(path, after, cap);
    for (const message of own) result.push(message);
    return limit !== undefined ? result.slice(0, limit) : result;
  }

  /** Waits until `path` changes (append, close, delete), the timeout passes or a signal aborts. */
  waitForChange(path: string, timeoutMs: number, ...signals: AbortSignal[]): Promise<WaitResult> {
    return this.waiters.wait(path, timeoutMs, ...signals);
  }
}

const RETRY: unique symbol = Symbol("retry");

/**
 * The protocol's decision on an append (PROTOCOL.md 5.2) against the stream's current metadata:
 * the answer, and the commit to make when there is one. Conflicts are thrown.
 */
function planAppend(
  meta: StreamMeta,
  body: Uint8Array,
  options: AppendOptions,
  now: number,
): { result: AppendResult; request?: CommitRequest } {
  const { producer } = options;
  if (meta.closed && !producer && body.byteLength === 0 && options.close) {
    return { result: { kind: "appended", offset: meta.tailOffset, closed: true } };
  }
  if (meta.closed) {
    const by = meta.closedBy;
    if (
      producer &&
      by &&
      by.producerId === producer.id &&
      by.epoch === producer.epoch &&
      by.seq === producer.seq
    ) {
      return { result: { kind: "duplicate", offset: meta.tailOffset, lastSeq: producer.seq, closed: true } };
    }
    throw conflict("stream is closed", { "Stream-Closed": "true", "Stream-Next-Offset": meta.tailOffset });
  }
  const closeOnly = body.byteLength === 0 && options.close === true;
  if (!closeOnly && options.contentType !== undefined) {
    if (normalizeContentType(options.contentType) !== normalizeContentType(meta.contentType)) {
      throw conflict("content type does not match the stream");
    }
  }
  let producers = meta.producers;
  if (producer) {
    const verdict = validateProducer(meta.producers[producer.id], producer, now);
    if (verdict.kind === "duplicate") {
      return {
        result: { kind: "duplicate", offset: meta.tailOffset, lastSeq: verdict.lastSeq, closed: false },
      };
    }
    producers = { ...meta.producers, [producer.id]: verdict.state };
  }
  if (options.seq !== undefined && meta.lastSeq !== undefined && options.seq <= meta.lastSeq) {
    throw conflict("Stream-Seq must increase");
  }
  const messages: StoredMessage[] = [];
  let tail = meta.tailOffset;
  if (!closeOnly) {
    const data = encodeAppend(meta.contentType, body, false);
    tail = formatOffset(bytePosition(tail) + data.byteLength);
    messages.push({ offset: tail, data });
  }
  const closed = options.close === true;
  const next: StreamMeta = {
    ...meta,
    version: meta.version + 1,
    tailOffset: tail,
    producers,
    closed,
    ...(options.seq !== undefined ? { lastSeq: options.seq } : {}),
    ...(closed && producer
      ? { closedBy: { producerId: producer.id, epoch: producer.epoch, seq: producer.seq } }
      : {}),
  };
  return {
    result: { kind: "appended", offset: tail, closed },
    request: { path: meta.path, expectedVersion: meta.version, meta: next, messages },
  };
}

type Commit = (request: CommitRequest) => Promise<boolean>;

function normalizeFull(contentType: string): string | undefined {
  const trimmed = contentType.trim();
  return /^[\w.+-]+\/[\w.+-]+/.test(trimmed) ? trimmed : undefined;
}

function encodeAppend(contentType: string, body: Uint8Array, isCreate: boolean): Uint8Array {
  if (!isJsonContentType(contentType)) return body;
  const values = splitJsonAppend(body, isCreate);
  return values.length === 0 ? new Uint8Array(0) : Buffer.from(`${values.join(",")},`);
}

function resolveExpiry(
  options: CreateOptions,
  source: StreamMeta | undefined,
): { ttlSeconds?: number; expiresAt?: string } {
  if (options.ttlSeconds !== undefined) return { ttlSeconds: options.ttlSeconds };
  if (options.expiresAt !== undefined) return { expiresAt: options.expiresAt };
  if (source?.ttlSeconds !== undefined) return { ttlSeconds: source.ttlSeconds };
  if (source?.expiresAt !== undefined) return { expiresAt: source.expiresAt };
  return {};
}

function sameConfig(meta: StreamMeta, options: CreateOptions): boolean {
  const wantedType = normalizeContentType(
    (options.contentType && normalizeFull(options.contentType)) ||
      (meta.forkedFrom && !options.contentType ? meta.contentType : "application/octet-stream"),
  );
  if (wantedType !== normalizeContentType(meta.contentType)) return false;
  if ((options.forkedFrom ?? undefined) !== meta.forkedFrom) return false;
  if (!meta.forkedFrom) {
    if (options.ttlSeconds !== meta.ttlSeconds || options.expiresAt !== meta.expiresAt) return false;
  } else {
    if (options.ttlSeconds !== undefined && options.ttlSeconds !== meta.ttlSeconds) return false;
    if (options.expiresAt !== undefined && options.expiresAt !== meta.expiresAt) return false;
  }
  if ((options.closed ?? false) !== meta.closed) return false;
  if (options.forkOffset !== undefined && options.forkOffset !== meta.forkOffset) return false;
  return (options.forkSubOffset ?? 0) === (meta.forkSubOffset ?? 0);
}
