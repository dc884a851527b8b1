import { StreamError } from "../protocol/errors";
import type { StoredMessage } from "../store/types";
import type { StreamEngine } from "../streams/engine";
import type { PresenceBeats } from "./beats";

/**
 * Presence of a session as a State Protocol stream (STATE-PROTOCOL.md).
 * The log at `<session>/presence` records changes only (join, status or name change, leave,
 * expiry), never unchanged heartbeats; heartbeats only move a deadline. A reader from the start
 * gets a snapshot of who is here now (snapshot-start, one insert per member, snapshot-end) at the
 * log's tail, then tails the changes: a late joiner never replays history.
 */
export const PRESENCE_STATUSES = ["viewing", "typing", "idle"] as const;
export type PresenceStatus = (typeof PRESENCE_STATUSES)[number];

export interface PresenceValue {
  userId: string;
  name: string;
  deviceId: string;
  status: PresenceStatus;
  updatedAt: string;
}

export interface PresenceEvent {
  type: "presence";
  key: string;
  value?: PresenceValue;
  headers: { operation: "insert" | "upsert" | "delete"; timestamp: string };
}

export const PRESENCE_TYPE = "presence";

export class PresenceService {
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly engine: StreamEngine,
    private readonly beats: PresenceBeats,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  start(sweepEveryMs = Math.max(50, Math.floor(this.ttlMs / 4))): void {
    this.sweeper = setInterval(() => {
      this.sweep().catch(() => {});
    }, sweepEveryMs);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  /** Upserts a member; appends to the log only when what others see has changed. */
  async upsert(logPath: string, value: Omit<PresenceValue, "updatedAt">): Promise<{ offset: string }> {
    await this.ensureLog(logPath);
    const key = `${value.userId}:${value.deviceId}`;
    await this.beats.beat(logPath, key, this.now() + this.ttlMs);
    const current = (await this.members(logPath)).members.get(key);
    if (current && current.status === value.status && current.name === value.name) {
      return { offset: (await this.engine.get(logPath)).tailOffset };
    }
    return this.write(logPath, { key, value: { ...value, updatedAt: new Date(this.now()).toISOString() } });
  }

  async leave(logPath: string, userId: string, deviceId: string): Promise<void> {
    const key = `${userId}:${deviceId}`;
    await this.beats.remove(logPath, key);
    if (await this.isMember(logPath, key)) await this.write(logPath, { key });
  }

  /** Announces the departure of members whose heartbeats stopped. */
  async sweep(): Promise<number> {
    const expired = await this.beats.claimExpired(this.now());
    for (const { stream, key } of expired) {
      if (await this.isMember(stream, key).catch(() => false))
        await this.write(stream, { key }).catch(() => {});
    }
    return expired.length;
  }

  /** Current members, folded from the change log, and the offset they are valid at. */
  async members(logPath: string): Promise<{ members: Map<string, PresenceValue>; offset: string }> {
    const { meta, messages } = await this.engine.read(logPath, "");
    const members = new Map<string, PresenceValue>();
    for (const event of eventsOf(messages)) {
      if (event.headers.operation === "delete") members.delete(event.key);
      else if (event.value) members.set(event.key, event.value);
    }
    return { members, offset: meta.tailOffset };
  }

  /** The snapshot a reader from the start receives. */
  async snapshot(logPath: string): Promise<{ events: unknown[]; offset: string }> {
    await this.ensureLog(logPath);
    const { members, offset } = await this.members(logPath);
    const timestamp = new Date(this.now()).toISOString();
    const events: unknown[] = [{ headers: { control: "snapshot-start", offset } }];
    for (const [key, value] of members) {
      events.push({ type: PRESENCE_TYPE, key, value, headers: { operation: "insert", timestamp } });
    }
    events.push({ headers: { control: "snapshot-end", offset } });
    return { events, offset };
  }

  async ensureLog(logPath: string): Promise<void> {
    await this.engine.create(logPath, { contentType: "application/json" }).catch((error) => {
      if (error instanceof StreamError && error.status === 409) {
        throw new StreamError(409, "CONFLICT", "presence path is taken by a stream of another kind");
      }
      throw error;
    });
  }

  private async isMember(logPath: string, key: string): Promise<boolean> {
    return (await this.members(logPath)).members.has(key);
  }

  private async write(
    logPath: string,
    change: { key: string; value?: PresenceValue },
  ): Promise<{ offset: string }> {
    const event: PresenceEvent = {
      type: PRESENCE_TYPE,
      key: change.key,
      ...(change.value ? { value: change.value } : {}),
      headers: {
        operation: change.value ? "upsert" : "delete",
        timestamp: new Date(this.now()).toISOString(),
      },
    };
    const result = await this.engine.append(logPath, Buffer.from(JSON.stringify(event)), {
      contentType: "application/json",
    });
    return { offset: result.offset };
  }
}

function eventsOf(messages: StoredMessage[]): PresenceEvent[] {
  if (messages.length === 0) return [];
  const text = Buffer.concat(messages.map((m) => m.data))
    .toString("utf8")
    .replace(/,$/, "");
  return JSON.parse(`[${text}]`) as PresenceEvent[];
}
