import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { isConcreteOffset, normalizeOffset, ZERO_OFFSET } from "../protocol/offset";
import type { StreamEngine } from "../streams/engine";
import { KeyedMutex } from "../streams/mutex";
import { postWebhook } from "./deliver";
import { SubscriptionError } from "./errors";
import { globMatch } from "./glob";
import { absolutePath, normalizeRelativePath, relativeTo } from "./paths";
import {
  BEFORE_FIRST,
  configHash,
  endWake,
  linkType,
  RECORD_PREFIX,
  recordKey,
  type StreamInfo,
  type SubscriptionConfig,
  type SubscriptionRecord,
} from "./record";
import { type GivenKeys, SubscriptionKeys } from "./signing";
import type { WebhookUrlPolicy } from "./webhook-url";

/**
 * Webhook and pull-wake subscriptions (the reserved `__ds/subscriptions` APIs). State lives in the
 * store's control records; this process keeps a mirror of them, refreshed on every change from any
 * instance, to decide cheaply which subscriptions an append concerns and when leases run out.
 * A wake: generation + 1, a new wake id, a snapshot of the linked tails; webhook subscriptions get a
 * signed POST, pull-wake ones an event in their wake stream, then a worker claims it.
 */
export interface SubscriptionSettings {
  policy: WebhookUrlPolicy;
  webhookTimeoutMs: number;
  sweepMs: number;
  /** Signing key and callback-token secret from configuration; absent ones come from the store. */
  keys?: GivenKeys;
}

/** What the service reports to metrics. */
export interface SubscriptionMetrics {
  delivered(ok: boolean): void;
  wakeWritten(): void;
}

export interface AckRequest {
  wake_id?: unknown;
  generation?: unknown;
  acks?: unknown;
  done?: unknown;
}

type Effect = { kind: "deliver"; generation: number } | { kind: "event"; generation: number; stream: string };

const TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
const MAX_RETRY_DELAY_MS = 60_000;
const MAX_CAS_ATTEMPTS = 30;

export class SubscriptionService {
  readonly ready: Promise<void>;
  private keys!: SubscriptionKeys;
  private readonly mirror = new Map<string, SubscriptionRecord>();
  private readonly mutex = new KeyedMutex();
  private readonly unsubscribe: Array<() => void> = [];
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  /** Set once the stored subscriptions are in `mirror`. */
  private loaded = false;

  constructor(
    private readonly engine: StreamEngine,
    private readonly settings: SubscriptionSettings,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly metrics?: SubscriptionMetrics,
  ) {
    const backend = engine.backend;
    this.unsubscribe.push(
      backend.onRecordChange((key) => {
        if (key.startsWith(RECORD_PREFIX)) void this.refresh(key);
      }),
      backend.onChange((path) => {
        // Every append passes here: with no subscription loaded there is nothing to match.
        if (this.loaded && this.mirror.size === 0) return;
        void this.onStreamChange(path).catch((err) =>
          this.logger.warn({ err, path }, "subscription wake failed"),
        );
      }),
    );
    this.ready = this.start();
    this.ready.catch((err) => this.logger.error({ err }, "subscriptions failed to start"));
  }

  private async start(): Promise<void> {
    this.keys = await SubscriptionKeys.load(this.engine.backend, this.settings.keys);
    for (const stored of await this.engine.backend.listRecords(RECORD_PREFIX)) {
      this.mirror.set(stored.key, JSON.parse(stored.value) as SubscriptionRecord);
    }
    this.loaded = true;
    if (this.stopped) return;
    this.sweeper = setInterval(() => void this.sweep(), this.settings.sweepMs);
    this.sweeper.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const off of this.unsubscribe) off();
  }

  /** Subscriptions known to this instance. */
  get count(): number {
    return this.mirror.size;
  }

  get signingKeys(): SubscriptionKeys {
    return this.keys;
  }

  key(root: string, id: string): string {
    return recordKey(root, id);
  }

  async get(key: string): Promise<SubscriptionRecord | undefined> {
    const stored = await this.engine.backend.getRecord(key);
    return stored ? (JSON.parse(stored.value) as SubscriptionRecord) : undefined;
  }

  async createOrConfirm(
    root: string,
    publicBase: string,
    id: string,
    config: SubscriptionConfig,
  ): Promise<{ record: SubscriptionRecord; created: boolean }> {
    if (config.type === "webhook") this.settings.policy.check(config.webhook?.url ?? "");
    const hash = configHash(config);
    const key = recordKey(root, id);
    return this.mutate<{ record: SubscriptionRecord; created: boolean }>(key, async (existing) => {
      if (existing) {
        if (existing.configHash !== hash) {
          throw new SubscriptionError(
            409,
            "SUBSCRIPTION_ALREADY_EXISTS",
            "subscription already exists with a different configuration",
          );
        }
        return { result: { record: existing, created: false } };
      }
      const record: SubscriptionRecord = {
        id,
        root,
        publicBase,
        config,
        configHash: hash,
        createdAt: new Date(this.now()).toISOString(),
        status: "active",
        streams: {},
        generation: 0,
        wakeId: null,
        wakeSnapshot: {},
        holder: null,
        leaseExpiresAt: null,
        retryCount: 0,
      };
      // Streams that exist already are linked at their tail: only what comes next is pending.
      for (const stream of config.streams) await this.link(record, stream, "explicit");
      if (config.pattern) {
        for (const path of await this.engine.backend.listStreams(`${root}/`)) {
          const relative = relativeTo(root, path);
          if (relative && relative !== config.wake_stream && globMatch(config.pattern, relative)) {
            await this.link(record, relative, "glob");
          }
        }
      }
      return { next: record, result: { record, created: true } };
    });
  }

  async remove(key: string): Promise<void> {
    await this.mutate(key, async (existing) =>
      existing ? { next: null, result: undefined } : { result: undefined },
    );
  }

  async addStreams(key: string, streams: string[]): Promise<void> {
    await this.mutate(key, async (record) => {
      if (!record) throw notFoundError();
      for (const stream of streams) await this.link(record, stream, "explicit");
      return { next: record, result: undefined };
    });
  }

  async removeStream(key: string, stream: string): Promise<void> {
    await this.mutate(key, async (record) => {
      if (!record) throw notFoundError();
      const link = record.streams[stream];
      if (!link) return { result: undefined };
      link.links = link.links.filter((type) => type !== "explicit");
      if (link.links.length === 0) delete record.streams[stream];
      return { next: record, result: undefined };
    });
  }

  async streamInfos(record: SubscriptionRecord): Promise<StreamInfo[]> {
    return Promise.all(
      Object.entries(record.streams).map(async ([path, link]) => {
        const tail = await this.tail(record.root, path);
        return {
          path,
          link_type: linkType(link),
          acked_offset: link.acked,
          tail_offset: tail,
          has_pending: tail > link.acked,
        };
      }),
    );
  }

  /** Public form of a subscription (GET and PUT responses). */
  async describe(record: SubscriptionRecord): Promise<Record<string, unknown>> {
    const streams = await this.streamInfos(record);
    return {
      id: record.id,
      subscription_id: record.id,
      type: record.config.type,
      pattern: record.config.pattern,
      streams: streams.map(({ path, link_type, acked_offset }) => ({ path, link_type, acked_offset })),
      webhook: record.config.webhook
        ? {
            url: record.config.webhook.url,
            signing: { alg: "ed25519", kid: this.keys.kid, jwks_url: `${record.publicBase}/__ds/jwks.json` },
          }
        : undefined,
      wake_stream: record.config.wake_stream,
      lease_ttl_ms: record.config.lease_ttl_ms,
      created_at: record.createdAt,
      status: record.status,
      description: record.config.description,
      generation: record.generation,
      holder: record.holder ?? undefined,
    };
  }

  /** Webhook callback (`/callback`) and pull-wake `/ack`: acknowledge offsets, extend or end the wake. */
  async acknowledge(
    key: string,
    type: SubscriptionConfig["type"],
    token: string,
    body: AckRequest,
  ): Promise<{ ok: true; next_wake: boolean }> {
    const generation = this.verifyToken(key, token);
    const acks = parseAcks(body.acks);
    return this.mutate(key, async (record) => {
      if (!record) throw notFoundError();
      requireType(record, type);
      fence(record, generation, body);
      for (const ack of acks) {
        const link = record.streams[ack.stream];
        if (!link) throw invalidOffset(`${ack.stream} is not a stream of this subscription`);
        if (ack.offset < link.acked) throw invalidOffset("ack offset regresses the acknowledged offset");
        if (ack.offset > (await this.tail(record.root, ack.stream))) {
          throw invalidOffset("ack offset is beyond the stream's tail");
        }
      }
      for (const ack of acks) (record.streams[ack.stream] as { acked: string }).acked = ack.offset;
      let effect: Effect | undefined;
      if (body.done === true) {
        endWake(record);
        effect = await this.wakeIfPending(record);
      } else {
        record.leaseExpiresAt = this.now() + record.config.lease_ttl_ms;
      }
      return { next: record, result: { ok: true as const, next_wake: effect !== undefined }, effect };
    });
  }

  async claim(key: string, worker: string): Promise<Record<string, unknown>> {
    const claimed = await this.mutate(key, async (record) => {
      if (!record) throw notFoundError();
      requireType(record, "pull-wake");
      if (record.holder) {
        throw new SubscriptionError(409, "ALREADY_CLAIMED", "the current wake is claimed", {
          current_holder: record.holder,
          generation: record.generation,
        });
      }
      const streams = await this.streamInfos(record);
      if (!streams.some((stream) => stream.has_pending)) {
        throw new SubscriptionError(409, "NO_PENDING_WORK", "no linked stream has unacknowledged data");
      }
      if (!record.wakeId) this.beginWake(record, streams);
      record.holder = worker;
      record.leaseExpiresAt = this.now() + record.config.lease_ttl_ms;
      return { next: record, result: { record, streams } };
    });
    const { record, streams } = claimed;
    return {
      wake_id: record.wakeId,
      generation: record.generation,
      token: this.keys.mintToken(key, record.generation, TOKEN_TTL_MS, this.now()),
      streams,
      lease_ttl_ms: record.config.lease_ttl_ms,
    };
  }

  async release(key: string, token: string, body: AckRequest): Promise<void> {
    const generation = this.verifyToken(key, token);
    await this.mutate(key, async (record) => {
      if (!record) throw notFoundError();
      requireType(record, "pull-wake");
      fence(record, generation, body);
      endWake(record);
      return { next: record, result: undefined, effect: await this.wakeIfPending(record) };
    });
  }

  /** After any commit: link new streams matching a pattern, drop deleted ones, wake if work is pending. */
  async onStreamChange(path: string): Promise<void> {
    await this.ready;
    for (const [key, record] of this.mirror) {
      const relative = relativeTo(record.root, path);
      if (!relative || relative === record.config.wake_stream) continue;
      const matches = record.config.pattern !== undefined && globMatch(record.config.pattern, relative);
      if (!matches && !record.streams[relative]) continue;
      await this.mutate(key, async (current) => {
        if (!current) return { result: undefined };
        const meta = await this.engine.backend.getMeta(path);
        if (!meta || meta.softDeleted) {
          if (!current.streams[relative]) return { result: undefined };
          delete current.streams[relative];
          return { next: current, result: undefined };
        }
        let changed = false;
        if (!current.streams[relative]) {
          current.streams[relative] = { links: ["glob"], acked: BEFORE_FIRST };
          changed = true;
        }
        const effect = current.wakeId || current.holder ? undefined : await this.wakeIfPending(current);
        return changed || effect ? { next: current, result: undefined, effect } : { result: undefined };
      });
    }
  }

  /** Ends expired leases (a holder that went quiet, a webhook that failed) and wakes again if needed. */
  async sweep(): Promise<void> {
    const now = this.now();
    for (const [key, record] of this.mirror) {
      if (record.leaseExpiresAt === null || record.leaseExpiresAt > now) continue;
      await this.mutate(key, async (current) => {
        if (!current || current.leaseExpiresAt === null || current.leaseExpiresAt > this.now()) {
          return { result: undefined };
        }
        endWake(current);
        return { next: current, result: undefined, effect: await this.wakeIfPending(current) };
      }).catch((err) => this.logger.warn({ err, key }, "subscription lease sweep failed"));
    }
  }

  private verifyToken(key: string, token: string): number {
    const verdict = this.keys.verifyToken(token, key, this.now());
    if (!verdict.ok) {
      throw new SubscriptionError(
        401,
        verdict.code,
        verdict.code === "TOKEN_EXPIRED" ? "token expired" : "invalid token",
        {},
        { "www-authenticate": "Bearer" },
      );
    }
    return verdict.generation;
  }

  private async link(record: SubscriptionRecord, stream: string, type: "explicit" | "glob"): Promise<void> {
    const existing = record.streams[stream];
    if (existing) {
      if (!existing.links.includes(type)) existing.links.push(type);
      return;
    }
    record.streams[stream] = { links: [type], acked: await this.tail(record.root, stream) };
  }

  private async tail(root: string, stream: string): Promise<string> {
    const meta = await this.engine.backend.getMeta(absolutePath(root, stream));
    return meta && !meta.softDeleted ? meta.tailOffset : ZERO_OFFSET;
  }

  private beginWake(record: SubscriptionRecord, streams: StreamInfo[]): void {
    record.generation += 1;
    record.wakeId = `w_${randomBytes(12).toString("base64url")}`;
    record.wakeSnapshot = Object.fromEntries(streams.map((stream) => [stream.path, stream.tail_offset]));
  }

  /** Starts a wake if a linked stream has unacknowledged data; returns what to do once stored. */
  private async wakeIfPending(record: SubscriptionRecord): Promise<Effect | undefined> {
    const streams = await this.streamInfos(record);
    const pending = streams.find((stream) => stream.has_pending);
    if (!pending) return undefined;
    this.beginWake(record, streams);
    if (record.config.type === "webhook") {
      // The lease runs from the wake: a receiver that never answers is woken again.
      record.leaseExpiresAt = this.now() + record.config.lease_ttl_ms;
      return { kind: "deliver", generation: record.generation };
    }
    return { kind: "event", generation: record.generation, stream: pending.path };
  }

  /**
   * Read, change, compare-and-set one record (serialized per key in this process, CAS across
   * instances); effects run only for the writer that won.
   */
  private async mutate<T>(
    key: string,
    change: (
      record: SubscriptionRecord | undefined,
    ) => Promise<{ next?: SubscriptionRecord | null; result: T; effect?: Effect }>,
  ): Promise<T> {
    return this.mutex.run(key, async () => {
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        const stored = await this.engine.backend.getRecord(key);
        const record = stored ? (JSON.parse(stored.value) as SubscriptionRecord) : undefined;
        const { next, result, effect } = await change(record);
        if (next === undefined) return result;
        const value = next === null ? null : JSON.stringify(next);
        if (!(await this.engine.backend.putRecord(key, stored?.version ?? 0, value))) continue;
        if (next === null) this.mirror.delete(key);
        else this.mirror.set(key, next);
        if (effect) void this.run(key, effect);
        return result;
      }
      throw new SubscriptionError(503, "BUSY", "subscription is changing too fast, retry");
    });
  }

  private async refresh(key: string): Promise<void> {
    const record = await this.get(key).catch(() => undefined);
    if (record) this.mirror.set(key, record);
    else this.mirror.delete(key);
  }

  private async run(key: string, effect: Effect): Promise<void> {
    if (this.stopped) return;
    try {
      if (effect.kind === "deliver") await this.deliver(key, effect.generation);
      else await this.writeWakeEvent(key, effect.generation, effect.stream);
    } catch (err) {
      this.logger.warn({ err, key }, "subscription wake effect failed");
    }
  }

  private async writeWakeEvent(key: string, generation: number, stream: string): Promise<void> {
    const record = await this.get(key);
    if (!record?.config.wake_stream || record.generation !== generation) return;
    const path = absolutePath(record.root, record.config.wake_stream);
    const meta = await this.engine.backend.getMeta(path);
    if (!meta || meta.softDeleted) {
      this.logger.warn({ subscription: record.id }, "wake stream does not exist");
      return;
    }
    const event = { type: "wake", subscription_id: record.id, stream, generation, ts: this.now() };
    await this.engine.append(path, new TextEncoder().encode(JSON.stringify(event)), {
      contentType: meta.contentType,
    });
    this.metrics?.wakeWritten();
  }

  private async deliver(key: string, generation: number): Promise<void> {
    if (this.stopped) return;
    const record = await this.get(key);
    if (!record?.config.webhook || record.generation !== generation || !record.wakeId) return;
    const target = this.settings.policy.check(record.config.webhook.url);
    const body = JSON.stringify({
      subscription_id: record.id,
      wake_id: record.wakeId,
      generation,
      streams: await this.streamInfos(record),
      callback_url: `${record.publicBase}/__ds/subscriptions/${encodeURIComponent(record.id)}/callback`,
      callback_token: this.keys.mintToken(key, generation, TOKEN_TTL_MS, this.now()),
    });
    const headers = {
      "content-type": "application/json",
      "webhook-signature": this.keys.signatureHeader(body),
    };
    const outcome = await postWebhook(target, body, headers, this.settings.webhookTimeoutMs).catch(
      (err: Error) => {
        this.logger.warn({ subscription: record.id, err: err.message }, "webhook delivery failed");
        return { ok: false, status: 0, done: false };
      },
    );
    this.metrics?.delivered(outcome.ok);
    if (this.stopped) return;
    await this.mutate(key, async (current) => {
      if (!current || current.generation !== generation || !current.wakeId) return { result: undefined };
      if (!outcome.ok) {
        // Retried as a new wake once the lease ends: 1 s, 2 s, 4 s ... up to a minute.
        current.status = "failed";
        current.retryCount += 1;
        current.leaseExpiresAt =
          this.now() + Math.min(1000 * 2 ** (current.retryCount - 1), MAX_RETRY_DELAY_MS);
        return { next: current, result: undefined };
      }
      current.status = "active";
      current.retryCount = 0;
      if (!outcome.done) {
        current.leaseExpiresAt = this.now() + current.config.lease_ttl_ms;
        return { next: current, result: undefined };
      }
      // `{ done: true }` in the response acknowledges everything the wake announced.
      for (const [stream, tail] of Object.entries(current.wakeSnapshot)) {
        const link = current.streams[stream];
        if (link && tail > link.acked) link.acked = tail;
      }
      endWake(current);
      return { next: current, result: undefined, effect: await this.wakeIfPending(current) };
    });
  }
}

function notFoundError(): SubscriptionError {
  return new SubscriptionError(404, "SUBSCRIPTION_NOT_FOUND", "subscription not found");
}

function invalidOffset(message: string): SubscriptionError {
  return new SubscriptionError(409, "INVALID_OFFSET", message);
}

function requireType(record: SubscriptionRecord, type: SubscriptionConfig["type"]): void {
  if (record.config.type !== type) {
    throw new SubscriptionError(400, "INVALID_REQUEST", `this is not a ${type} subscription`);
  }
}

/** A token or request of another wake than the current one is stale. */
function fence(record: SubscriptionRecord, tokenGeneration: number, body: AckRequest): void {
  if (
    !record.wakeId ||
    tokenGeneration !== record.generation ||
    body.generation !== record.generation ||
    body.wake_id !== record.wakeId
  ) {
    throw new SubscriptionError(409, "FENCED", "this wake generation is stale", {
      generation: record.generation,
    });
  }
}

function parseAcks(value: unknown): Array<{ stream: string; offset: string }> {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 10_000) {
    throw new SubscriptionError(400, "INVALID_REQUEST", "acks must be an array");
  }
  return value.map((item) => {
    const ack = item as { stream?: unknown; path?: unknown; offset?: unknown };
    const stream = typeof ack.stream === "string" ? ack.stream : ack.path;
    if (typeof stream !== "string" || typeof ack.offset !== "string") {
      throw new SubscriptionError(400, "INVALID_REQUEST", "each ack needs a stream and an offset");
    }
    if (!isConcreteOffset(ack.offset)) throw invalidOffset("ack offset must be a concrete offset");
    return { stream: normalizeRelativePath(stream), offset: normalizeOffset(ack.offset) };
  });
}
