import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import type { Logger } from "pino";
import { badRequest, SyncError } from "../protocol/errors";
import type { RowChange, ShapeView } from "../protocol/messages";
import { type ColumnInfo, compileWhere, quoteIdent, type Row } from "../protocol/where";
import { loadTable, parseSnapshot } from "../replication/catalog";
import {
  type RelationInfo,
  ReplicationStream,
  SESSION_OPTIONS,
  type Transaction,
} from "../replication/stream";
import { definitionKey, type ShapeDefinition } from "./definition";
import { Shape, type ShapeMeta } from "./shape";

export interface EngineOptions {
  databaseUrl: string;
  /** Shape logs live under `<dataDir>/<streamId>/shapes`. */
  dataDir: string;
  /** Names the slot and publication: unique per database and running instance. */
  streamId: string;
  logger: Logger;
}

const FETCH_ROWS = 2000;
const IDLE_RELEASE_MS = 60_000;
const keepText = { getTypeParser: () => (value: string) => value };

function validateColumns(def: ShapeDefinition, columns: readonly ColumnInfo[]): ColumnInfo[] {
  const pk = columns.filter((c) => c.pkIndex !== null);
  if (pk.length === 0) throw badRequest(`table "${def.table}" has no primary key`, "no_primary_key");
  if (!def.columns) return [...columns];
  const byName = new Map(columns.map((c) => [c.name, c]));
  for (const name of def.columns) {
    if (!byName.has(name)) throw badRequest(`unknown column "${name}" in columns`, "invalid_columns");
  }
  for (const key of pk) {
    if (!def.columns.includes(key.name)) {
      throw badRequest(`columns must include the primary key column "${key.name}"`, "invalid_columns");
    }
  }
  return columns.filter((c) => def.columns?.includes(c.name));
}

/**
 * Owns every shape of one replication stream: creates each with a consistent
 * snapshot, routes each committed transaction to the shapes of its table, and
 * restores shapes from disk after a restart.
 */
export class ShapeEngine {
  private readonly shapes = new Map<string, Shape>();
  private readonly byKey = new Map<string, Shape>();
  private readonly byTable = new Map<string, Set<Shape>>();
  private readonly creating = new Map<string, Promise<Shape>>();
  private readonly pool: pg.Pool;
  readonly replication: ReplicationStream;
  private readonly shapesDir: string;
  private sequence = 0;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Shapes whose logs grew since the slot was last acknowledged. */
  private readonly unsynced = new Set<Shape>();
  status: "starting" | "active" | "stopped" = "starting";

  constructor(private readonly options: EngineOptions) {
    this.pool = new pg.Pool({ connectionString: options.databaseUrl, max: 4, options: SESSION_OPTIONS });
    this.pool.on("error", (error) => options.logger.warn({ err: error }, "idle database connection failed"));
    this.shapesDir = path.join(options.dataDir, options.streamId, "shapes");
    this.replication = new ReplicationStream({
      databaseUrl: options.databaseUrl,
      slot: `superset_sync_slot_${options.streamId}`,
      publication: `superset_sync_pub_${options.streamId}`,
      logger: options.logger,
      onTransaction: (txn) => this.onTransaction(txn),
      onRelation: (relation) => this.onRelation(relation),
      beforeAcknowledge: () => this.syncLogs(),
    });
  }

  async start(): Promise<void> {
    mkdirSync(this.shapesDir, { recursive: true });
    await this.replication.prepare();
    if (this.replication.slotCreated) {
      // A new slot cannot continue logs written against an older one: clients get 409s.
      for (const name of readdirSync(this.shapesDir))
        rmSync(path.join(this.shapesDir, name), { recursive: true, force: true });
    } else {
      this.restoreShapes();
    }
    await this.replication.startStreaming();
    this.sweepTimer = setInterval(() => this.releaseIdleShapes(IDLE_RELEASE_MS), IDLE_RELEASE_MS);
    this.sweepTimer.unref();
    this.status = "active";
  }

  /**
   * Drops the log indexes of shapes nobody has read or written for a while, so
   * memory grows with active shapes, not with every shape ever made.
   */
  releaseIdleShapes(idleForMs: number): number {
    let released = 0;
    const now = Date.now();
    for (const shape of this.shapes.values()) if (shape.release(idleForMs, now)) released++;
    return released;
  }

  private restoreShapes(): void {
    for (const handle of readdirSync(this.shapesDir)) {
      const dir = path.join(this.shapesDir, handle);
      const metaPath = path.join(dir, "meta.json");
      if (!existsSync(metaPath)) {
        rmSync(dir, { recursive: true, force: true }); // a snapshot cut short
        continue;
      }
      try {
        const meta = JSON.parse(readFileSync(metaPath, "utf8")) as ShapeMeta & { selected: ColumnInfo[] };
        const shape = new Shape(
          meta.handle,
          meta.definition,
          this.viewFor(meta.definition, meta.selected),
          dir,
        );
        shape.restore(meta);
        this.register(shape);
      } catch (error) {
        this.options.logger.warn({ err: error, handle }, "dropping unreadable shape");
        rmSync(dir, { recursive: true, force: true });
      }
    }
    this.options.logger.info({ shapes: this.shapes.size }, "restored shapes");
  }

  private viewFor(
    def: ShapeDefinition,
    selected: ColumnInfo[],
    tableColumns: ColumnInfo[] = selected,
  ): ShapeView {
    return {
      schema: def.schema,
      table: def.table,
      selected,
      pk: selected
        .filter((c) => c.pkIndex !== null)
        .sort((a, b) => (a.pkIndex ?? 0) - (b.pkIndex ?? 0))
        .map((c) => c.name),
      replica: def.replica,
      where: def.where === null ? null : compileWhere(def.where, tableColumns, def.params),
    };
  }

  private register(shape: Shape): void {
    this.shapes.set(shape.handle, shape);
    this.byKey.set(definitionKey(shape.definition), shape);
    const table = `${shape.definition.schema}.${shape.definition.table}`;
    const set = this.byTable.get(table) ?? new Set<Shape>();
    this.byTable.set(table, set);
    set.add(shape);
  }

  private unregister(shape: Shape): void {
    this.shapes.delete(shape.handle);
    if (this.byKey.get(definitionKey(shape.definition)) === shape)
      this.byKey.delete(definitionKey(shape.definition));
    this.byTable.get(`${shape.definition.schema}.${shape.definition.table}`)?.delete(shape);
  }

  get shapeCount(): number {
    return this.shapes.size;
  }

  get lastSeenLsn(): bigint {
    return this.replication.lastProcessedLsn;
  }

  getShape(handle: string): Shape | undefined {
    const shape = this.shapes.get(handle);
    return shape?.state === "live" ? shape : undefined;
  }

  findShape(def: ShapeDefinition): Shape | undefined {
    const shape = this.byKey.get(definitionKey(def));
    return shape?.state === "live" ? shape : undefined;
  }

  /** The live shape for a definition, created (snapshot and all) on first use. */
  async resolve(def: ShapeDefinition): Promise<Shape> {
    if (this.status !== "active") throw new SyncError(503, "starting", "the sync service is starting");
    const key = definitionKey(def);
    const existing = this.byKey.get(key);
    if (existing?.state === "live") return existing;
    let pending = this.creating.get(key);
    if (!pending) {
      pending = this.create(def).finally(() => this.creating.delete(key));
      this.creating.set(key, pending);
    }
    return pending;
  }

  private newHandle(def: ShapeDefinition): string {
    let hash = 2166136261;
    for (const ch of definitionKey(def)) hash = Math.imul(hash ^ ch.charCodeAt(0), 16777619) >>> 0;
    return `${hash}-${Date.now()}${String(this.sequence++ % 1000).padStart(3, "0")}${randomBytes(2).toString("hex")}`;
  }

  private async create(def: ShapeDefinition): Promise<Shape> {
    const started = performance.now();
    const table = await loadTable(this.pool, def.schema, def.table);
    const selected = validateColumns(def, table.columns);
    const view = this.viewFor(def, selected, table.columns);
    await this.replication.addTable(def.schema, def.table);

    const handle = this.newHandle(def);
    const dir = path.join(this.shapesDir, handle);
    mkdirSync(dir, { recursive: true });
    const shape = new Shape(handle, def, view, dir);
    // From here on, every transaction the stream delivers is buffered for the shape,
    // and the snapshot below starts later: nothing committed after it can be missed.
    this.register(shape);
    const client = await this.pool.connect();
    try {
      await client.query("begin isolation level repeatable read read only");
      const info = await client.query<{ snapshot: string; lsn: string }>(
        "select pg_current_snapshot()::text as snapshot, (pg_current_wal_insert_lsn() - '0/0')::text as lsn",
      );
      const row = info.rows[0];
      if (!row) throw new Error("snapshot query returned nothing");
      if (def.log === "full") {
        const columns = selected.map((c) => quoteIdent(c.name)).join(", ");
        const where = view.where ? ` where ${view.where.sql}` : "";
        await client.query({
          text: `declare shape_snapshot no scroll cursor for select ${columns} from ${quoteIdent(def.schema)}.${quoteIdent(def.table)}${where}`,
          values: view.where?.values ?? [],
        });
        for (;;) {
          const batch = await client.query<Row>({
            text: `fetch ${FETCH_ROWS} from shape_snapshot`,
            types: keepText,
          });
          shape.appendSnapshotRows(batch.rows);
          if (batch.rows.length < FETCH_ROWS) break;
        }
      }
      await client.query("commit");
      const meta: ShapeMeta & { selected: ColumnInfo[] } = {
        handle,
        definition: def,
        tableColumns: table.columns.map((c) => ({ name: c.name, typeOid: c.typeOid })),
        selected,
        snapshot: parseSnapshot(row.snapshot),
        snapshotWalLsn: row.lsn,
        createdAt: new Date().toISOString(),
      };
      shape.snapshotLog.sync();
      writeFileSync(path.join(dir, "meta.json.tmp"), JSON.stringify(meta));
      renameSync(path.join(dir, "meta.json.tmp"), path.join(dir, "meta.json"));
      shape.goLive(meta);
      this.unsynced.add(shape);
      this.options.logger.info(
        {
          handle,
          table: `${def.schema}.${def.table}`,
          rows: shape.snapshotLog.entryCount,
          ms: Math.round(performance.now() - started),
        },
        "shape created",
      );
      return shape;
    } catch (error) {
      await client.query("rollback").catch(() => {});
      this.unregister(shape);
      shape.delete();
      const code = (error as { code?: string }).code ?? "";
      // Bad values and the like in a where clause that passed our checks: the client's fault.
      if (code.startsWith("22") || code.startsWith("42")) {
        this.options.logger.warn({ err: error }, "snapshot query rejected");
        throw badRequest("the where clause could not be applied to the table", "invalid_where");
      }
      throw error;
    } finally {
      client.release();
    }
  }

  delete(shape: Shape): void {
    this.unregister(shape);
    shape.delete();
    this.options.logger.info({ handle: shape.handle }, "shape deleted");
  }

  private onTransaction(txn: Transaction): void {
    for (const { schema, table } of txn.truncated) {
      for (const shape of [...(this.byTable.get(`${schema}.${table}`) ?? [])]) this.delete(shape);
    }
    const byTable = new Map<string, RowChange[]>();
    for (const change of txn.changes) {
      const key = `${change.schema}.${change.table}`;
      if (!this.byTable.has(key)) continue;
      const list = byTable.get(key) ?? [];
      byTable.set(key, list);
      list.push(change);
    }
    for (const [table, changes] of byTable) {
      for (const shape of this.byTable.get(table) ?? []) {
        try {
          if (shape.receive(txn, changes)) this.unsynced.add(shape);
        } catch (error) {
          // A shape that cannot write its log is dropped; its clients refetch.
          this.options.logger.error({ err: error, handle: shape.handle }, "shape failed, deleting it");
          this.delete(shape);
        }
      }
    }
  }

  /**
   * fsyncs the logs written since the last acknowledgement (on the thread pool,
   * so live requests keep flowing), so the slot never moves past what is on disk.
   */
  private async syncLogs(): Promise<void> {
    const shapes = [...this.unsynced];
    this.unsynced.clear();
    try {
      await Promise.all(shapes.map((shape) => shape.changeLog.syncAsync()));
    } catch (error) {
      for (const shape of shapes) this.unsynced.add(shape);
      throw error;
    }
  }

  private onRelation(relation: RelationInfo): void {
    const shapes = this.byTable.get(`${relation.schema}.${relation.table}`);
    if (!shapes) return;
    const now = new Map(relation.columns.map((c) => [c.name, c.typeOid]));
    for (const shape of [...shapes]) {
      const before = shape.meta?.tableColumns ?? [];
      const changed = before.length !== now.size || before.some((c) => now.get(c.name) !== c.typeOid);
      if (changed) {
        this.options.logger.info({ handle: shape.handle }, "table schema changed");
        this.delete(shape);
      }
    }
  }

  async stop(options: { dropSlot?: boolean } = {}): Promise<void> {
    this.status = "stopped";
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await Promise.allSettled([...this.creating.values()]);
    await this.replication.stop();
    if (options.dropSlot) await this.replication.drop();
    await this.pool.end();
  }
}
