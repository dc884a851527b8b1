import { Redis } from "ioredis";
import { beatMember, type PresenceBeats, parseBeatMember } from "../presence/beats";
import { bytePosition, formatOffset } from "../protocol/offset";
import type { CommitRequest, ControlRecord, StoredMessage, StreamBackend, StreamMeta } from "./types";

/**
 * Streams in Redis, shared by every stream-server instance.
 * - `ds:{path}:m`: hash of metadata (`v` version, `j` JSON);
 * - `ds:{path}:x`: a Redis stream of the messages, entry id `0-<byte position>` so XRANGE seeks by offset;
 * - `ds:{path}:a`: last access time (sliding TTL);
 * - channel `ds:changed`: every commit publishes the path, waking live readers on all instances.
 * A commit is one Lua script: compare the version, write the metadata, XADD the messages, PUBLISH.
 * Control records (subscriptions, server keys): hash `ds:r:<key>` (`v`, `j`), indexed in the set
 * `ds:records`; each write is one Lua compare-and-set that publishes the key on `ds:records`.
 */
const CHANNEL = "ds:changed";
const RECORDS_CHANNEL = "ds:records";
const RECORDS_INDEX = "ds:records";
const BEATS_KEY = "ds:presence:beats";

const PUT_RECORD_SCRIPT = `
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[3])
else
  redis.call('HSET', KEYS[1], 'v', current + 1, 'j', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
end
redis.call('PUBLISH', ARGV[4], ARGV[3])
return 1
`;

const recordKey = (key: string) => `ds:r:${key}`;

const COMMIT_SCRIPT = `
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
else
  redis.call('HSET', KEYS[1], 'v', ARGV[3], 'j', ARGV[2])
  for i = 6, #ARGV, 2 do
    redis.call('XADD', KEYS[2], ARGV[i], 'd', ARGV[i + 1])
  end
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`;

const keys = (path: string) => ({ meta: `ds:{${path}}:m`, log: `ds:{${path}}:x`, access: `ds:{${path}}:a` });

type CommitCommand = (...args: Array<string | Buffer | number>) => Promise<number>;
type PutRecordCommand = (...args: Array<string | number>) => Promise<number>;

export class RedisBackend implements StreamBackend {
  readonly kind = "redis" as const;
  private readonly listeners = new Set<(path: string) => void>();
  private readonly recordListeners = new Set<(key: string) => void>();

  private constructor(
    readonly client: Redis,
    private readonly subscriber: Redis,
  ) {}

  static async connect(url: string): Promise<RedisBackend> {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
    await client.connect();
    client.defineCommand("dsCommit", { numberOfKeys: 3, lua: COMMIT_SCRIPT });
    client.defineCommand("dsPutRecord", { numberOfKeys: 2, lua: PUT_RECORD_SCRIPT });
    const subscriber = client.duplicate();
    const backend = new RedisBackend(client, subscriber);
    subscriber.on("message", (channel: string, message: string) => {
      if (channel === RECORDS_CHANNEL) {
        for (const listener of backend.recordListeners) listener(message);
        return;
      }
      for (const listener of backend.listeners) listener(message);
    });
    await subscriber.subscribe(CHANNEL, RECORDS_CHANNEL);
    return backend;
  }

  async getMeta(path: string): Promise<StreamMeta | undefined> {
    const json = await this.client.hget(keys(path).meta, "j");
    return json ? (JSON.parse(json) as StreamMeta) : undefined;
  }

  getLatestMeta(path: string): Promise<StreamMeta | undefined> {
    return this.getMeta(path);
  }

  async readMessages(path: string, after: string, upTo?: string): Promise<StoredMessage[]> {
    const start = after === "" ? "-" : `(0-${bytePosition(after)}`;
    const end = upTo === undefined ? "+" : `0-${bytePosition(upTo)}`;
    const entries = await this.client.xrangeBuffer(keys(path).log, start, end);
    return entries.map(([id, fields]) => ({
      offset: formatOffset(Number(id.toString("latin1").slice(2))),
      data: fields[1] as Buffer,
    }));
  }

  async commit(request: CommitRequest): Promise<false | { durable: Promise<void> }> {
    const k = keys(request.path);
    const args: Array<string | Buffer | number> = [
      k.meta,
      k.log,
      k.access,
      request.expectedVersion,
      request.meta === null ? "" : JSON.stringify(request.meta),
      request.meta?.version ?? 0,
      CHANNEL,
      request.path,
    ];
    for (const message of request.messages ?? []) {
      args.push(
        `0-${bytePosition(message.offset)}`,
        Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength),
      );
    }
    const applied = await (this.client as unknown as { dsCommit: CommitCommand }).dsCommit(...args);
    return applied === 1 ? { durable: Promise.resolve() } : false;
  }

  touch(path: string, at: number): void {
    this.client.set(keys(path).access, String(at)).catch(() => {});
  }

  async lastAccess(path: string): Promise<number | undefined> {
    const value = await this.client.get(keys(path).access);
    return value === null ? undefined : Number(value);
  }

  onChange(listener: (path: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async listStreams(prefix: string): Promise<string[]> {
    const pattern = `ds:{${prefix.replace(/[*?[\]\\]/g, "\\$&")}*}:m`;
    const paths: string[] = [];
    let cursor = "0";
    do {
      const [next, found] = await this.client.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      for (const key of found) paths.push(key.slice("ds:{".length, -"}:m".length));
    } while (cursor !== "0");
    return paths;
  }

  async getRecord(key: string): Promise<ControlRecord | undefined> {
    const [version, value] = await this.client.hmget(recordKey(key), "v", "j");
    return version && typeof value === "string" ? { key, version: Number(version), value } : undefined;
  }

  async putRecord(key: string, expectedVersion: number, value: string | null): Promise<boolean> {
    const put = (this.client as unknown as { dsPutRecord: PutRecordCommand }).dsPutRecord;
    const applied = await put.call(
      this.client,
      recordKey(key),
      RECORDS_INDEX,
      expectedVersion,
      value ?? "",
      key,
      RECORDS_CHANNEL,
    );
    return applied === 1;
  }

  async listRecords(prefix: string): Promise<ControlRecord[]> {
    const keys = (await this.client.smembers(RECORDS_INDEX)).filter((key) => key.startsWith(prefix));
    const records = await Promise.all(keys.map((key) => this.getRecord(key)));
    return records.filter((record): record is ControlRecord => record !== undefined);
  }

  onRecordChange(listener: (key: string) => void): () => void {
    this.recordListeners.add(listener);
    return () => this.recordListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.recordListeners.clear();
    await Promise.allSettled([this.subscriber.quit(), this.client.quit()]);
  }
}

/** Presence deadlines in one sorted set; ZREM decides which instance announces an expiry. */
export class RedisBeats implements PresenceBeats {
  constructor(private readonly client: Redis) {}

  async beat(stream: string, key: string, expiresAt: number): Promise<void> {
    await this.client.zadd(BEATS_KEY, expiresAt, beatMember(stream, key));
  }

  async remove(stream: string, key: string): Promise<boolean> {
    return (await this.client.zrem(BEATS_KEY, beatMember(stream, key))) === 1;
  }

  async claimExpired(now: number): Promise<Array<{ stream: string; key: string }>> {
    const members = await this.client.zrangebyscore(BEATS_KEY, "-inf", now, "LIMIT", 0, 500);
    const claimed: Array<{ stream: string; key: string }> = [];
    for (const member of members) {
      if ((await this.client.zrem(BEATS_KEY, member)) === 1) claimed.push(parseBeatMember(member));
    }
    return claimed;
  }
}
