import pg from "pg";
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from "pg-logical-replication";
import type { Logger } from "pino";
import { bigIntToLsn, lsnToBigInt } from "../protocol/offset";
import type { Row } from "../protocol/where";

/** Session settings shared by the replication and snapshot connections, so both print values alike. */
export const SESSION_OPTIONS =
  "-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres -c extra_float_digits=1";

export interface TableChange {
  schema: string;
  table: string;
  kind: "insert" | "update" | "delete";
  old: Row | null;
  new: Row | null;
}

/** One committed transaction, its changes in order. */
export interface Transaction {
  xid: number;
  /** Commit LSN (start of the commit record). */
  lsn: bigint;
  /** End of the commit record: every later transaction commits at or after it. */
  endLsn: bigint;
  changes: TableChange[];
  truncated: Array<{ schema: string; table: string }>;
}

export interface RelationInfo {
  schema: string;
  table: string;
  columns: Array<{ name: string; typeOid: number }>;
}

export interface ReplicationOptions {
  databaseUrl: string;
  slot: string;
  publication: string;
  logger: Logger;
  /** Called synchronously for each commit, in commit order; the LSN is acknowledged once it returns. */
  onTransaction: (txn: Transaction) => void;
  onRelation: (relation: RelationInfo) => void;
  /** Called before the slot is acknowledged: everything processed must be durable when it returns. */
  beforeAcknowledge?: () => Promise<void>;
}

const identity = (value: unknown) => value;

/**
 * One pgoutput logical replication stream from one slot. Transactions are
 * delivered whole at their commit; the slot is acknowledged only up to what
 * `onTransaction` has processed, so a restart redelivers anything unwritten.
 */
export class ReplicationStream {
  private service: LogicalReplicationService | null = null;
  private current: Transaction | null = null;
  private processedLsn = 0n;
  private ackedLsn = 0n;
  private ackTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private reconnectDelay = 100;
  /** True when the slot did not exist and was created by `start` (older shape logs cannot resume). */
  slotCreated = false;

  constructor(private readonly options: ReplicationOptions) {}

  get lastProcessedLsn(): bigint {
    return this.processedLsn;
  }

  private async admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  /** Makes sure the publication and the slot exist; call `startStreaming` once shapes are loaded. */
  async prepare(): Promise<void> {
    const { slot, publication } = this.options;
    await this.admin(async (client) => {
      const pub = await client.query("select 1 from pg_publication where pubname = $1", [publication]);
      if (pub.rowCount === 0) await client.query(`create publication "${publication}"`);
      const existing = await client.query<{ confirmed: string | null }>(
        "select confirmed_flush_lsn::text as confirmed from pg_replication_slots where slot_name = $1",
        [slot],
      );
      if (existing.rowCount === 0) {
        const created = await client.query<{ lsn: string }>(
          "select lsn::text as lsn from pg_create_logical_replication_slot($1, 'pgoutput')",
          [slot],
        );
        this.slotCreated = true;
        this.processedLsn = lsnToBigInt(created.rows[0]?.lsn ?? "0/0");
      } else {
        this.processedLsn = lsnToBigInt(existing.rows[0]?.confirmed ?? "0/0");
      }
    });
    this.ackedLsn = this.processedLsn;
  }

  async startStreaming(): Promise<void> {
    this.ackTimer = setInterval(() => void this.acknowledge(), 1000);
    this.ackTimer.unref();
    await this.subscribe();
  }

  /** Adds a table to the publication (and gives it REPLICA IDENTITY FULL, as Electric does). */
  async addTable(schema: string, table: string): Promise<void> {
    await this.admin(async (client) => {
      const member = await client.query(
        "select 1 from pg_publication_tables where pubname = $1 and schemaname = $2 and tablename = $3",
        [this.options.publication, schema, table],
      );
      if (member.rowCount && member.rowCount > 0) return;
      const qualified = `"${schema.replaceAll('"', '""')}"."${table.replaceAll('"', '""')}"`;
      const identity = await client.query<{ relreplident: string }>(
        "select c.relreplident from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2",
        [schema, table],
      );
      if (identity.rows[0]?.relreplident !== "f") {
        this.options.logger.info({ table: qualified }, "setting REPLICA IDENTITY FULL");
        await client.query(`alter table ${qualified} replica identity full`);
      }
      try {
        await client.query(`alter publication "${this.options.publication}" add table ${qualified}`);
      } catch (error) {
        // Another instance or request added it meanwhile.
        if ((error as { code?: string }).code !== "42710") throw error;
      }
    });
  }

  private async subscribe(): Promise<void> {
    if (this.stopped) return;
    const service = new LogicalReplicationService(
      { connectionString: this.options.databaseUrl, options: SESSION_OPTIONS },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    this.service = service;
    this.current = null;
    service.on("data", (_lsn: string, message: Pgoutput.Message) => this.onMessage(message));
    service.on("heartbeat", (_lsn: string, _time: number, shouldRespond: boolean) => {
      if (shouldRespond) void this.acknowledge(true);
    });
    service.on("error", (error: Error) =>
      this.options.logger.warn({ err: error }, "replication stream error"),
    );
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.options.publication] });
    service
      .subscribe(plugin, this.options.slot, bigIntToLsn(this.ackedLsn))
      .then(() => this.reconnect())
      .catch((error: unknown) => {
        if (!this.stopped) this.options.logger.warn({ err: error }, "replication stream ended");
        this.reconnect();
      });
  }

  private reconnect(): void {
    if (this.stopped) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5000);
    setTimeout(() => {
      void this.service?.destroy().finally(() => void this.subscribe());
    }, delay).unref();
  }

  private onMessage(message: Pgoutput.Message): void {
    this.reconnectDelay = 100;
    switch (message.tag) {
      case "relation":
        // Keep Postgres text values: the evaluator and clients parse them by type.
        for (const column of message.columns) column.parser = identity;
        this.options.onRelation({
          schema: message.schema,
          table: message.name,
          columns: message.columns.map((c) => ({ name: c.name, typeOid: c.typeOid })),
        });
        return;
      case "begin":
        this.current = {
          xid: message.xid,
          lsn: lsnToBigInt(message.commitLsn ?? "0/0"),
          endLsn: 0n,
          changes: [],
          truncated: [],
        };
        return;
      case "insert":
        this.current?.changes.push({
          schema: message.relation.schema,
          table: message.relation.name,
          kind: "insert",
          old: null,
          new: message.new,
        });
        return;
      case "update":
        this.current?.changes.push({
          schema: message.relation.schema,
          table: message.relation.name,
          kind: "update",
          old: message.old ?? (message.key ? { ...message.new, ...message.key } : null),
          new: message.new,
        });
        return;
      case "delete":
        this.current?.changes.push({
          schema: message.relation.schema,
          table: message.relation.name,
          kind: "delete",
          old: message.old ?? message.key,
          new: null,
        });
        return;
      case "truncate":
        for (const relation of message.relations)
          this.current?.truncated.push({ schema: relation.schema, table: relation.name });
        return;
      case "commit": {
        const txn = this.current;
        this.current = null;
        if (!txn) return;
        txn.endLsn = lsnToBigInt(message.commitEndLsn ?? "0/0");
        if (txn.endLsn <= this.processedLsn) return; // already processed before a reconnect
        this.options.onTransaction(txn);
        this.processedLsn = txn.endLsn;
        return;
      }
      default:
        return;
    }
  }

  /** Tells Postgres everything up to the processed position may be released. */
  async acknowledge(force = false): Promise<void> {
    if (!this.service || (!force && this.processedLsn === this.ackedLsn)) return;
    const lsn = this.processedLsn;
    try {
      await this.options.beforeAcknowledge?.();
      // The library reports lsn + 1 as flushed; pass the last byte we hold.
      await this.service.acknowledge(bigIntToLsn(lsn > 0n ? lsn - 1n : 0n));
      this.ackedLsn = lsn;
    } catch (error) {
      this.options.logger.warn({ err: error }, "acknowledge failed");
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ackTimer) clearInterval(this.ackTimer);
    await this.acknowledge();
    await this.service?.destroy();
    this.service = null;
  }

  /** Drops the slot and publication (tests, and instances retired for good). */
  async drop(): Promise<void> {
    await this.admin(async (client) => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const slot = await client.query<{ active: boolean }>(
          "select active from pg_replication_slots where slot_name = $1",
          [this.options.slot],
        );
        if (slot.rowCount === 0) break;
        if (!slot.rows[0]?.active) {
          await client.query("select pg_drop_replication_slot($1)", [this.options.slot]);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await client.query(`drop publication if exists "${this.options.publication}"`);
    });
  }
}
