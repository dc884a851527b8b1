import type pg from "pg";
import { badRequest } from "../protocol/errors";
import type { ColumnInfo } from "../protocol/where";

export interface TableInfo {
  schema: string;
  table: string;
  columns: Array<ColumnInfo & { typeOid: number }>;
}

/** Reads a table's columns, types and primary key; a 400 when the table does not exist. */
export async function loadTable(
  client: pg.Pool | pg.PoolClient,
  schema: string,
  table: string,
): Promise<TableInfo> {
  const result = await client.query<{
    name: string;
    type: string;
    type_oid: number;
    dims: number;
    not_null: boolean;
    pk_index: number | null;
  }>(
    `select a.attname as name,
            case when t.typcategory = 'A' then e.typname else t.typname end as type,
            a.atttypid::int as type_oid,
            case when t.typcategory = 'A' then greatest(a.attndims, 1) else 0 end as dims,
            a.attnotnull as not_null,
            (select array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1)
               from pg_index i where i.indrelid = c.oid and i.indisprimary) as pk_index
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
       join pg_type t on t.oid = a.atttypid
       left join pg_type e on e.oid = t.typelem
      where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p')
      order by a.attnum`,
    [schema, table],
  );
  if (result.rowCount === 0) throw badRequest(`table "${schema}"."${table}" does not exist`, "unknown_table");
  return {
    schema,
    table,
    columns: result.rows.map((r) => ({
      name: r.name,
      type: r.type,
      typeOid: r.type_oid,
      dims: r.dims,
      notNull: r.not_null,
      pkIndex: r.pk_index,
    })),
  };
}

/** `xmin:xmax:xip,...` of pg_current_snapshot(), as 32-bit xids like pgoutput's. */
export interface XidSnapshot {
  xmin: number;
  xmax: number;
  xip: number[];
}

const to32 = (xid8: string) => Number(BigInt(xid8) % 4294967296n);

export function parseSnapshot(text: string): XidSnapshot {
  const [xmin = "0", xmax = "0", xip = ""] = text.split(":");
  return { xmin: to32(xmin), xmax: to32(xmax), xip: xip ? xip.split(",").map(to32) : [] };
}

/** Postgres' TransactionIdPrecedes: modulo-2^32 comparison. */
const precedes = (a: number, b: number) => ((a - b) | 0) < 0;

/** Whether a transaction's effects were already visible to the snapshot (so its changes are in it). */
export function visibleIn(snapshot: XidSnapshot, xid: number): boolean {
  if (precedes(xid, snapshot.xmin)) return true;
  if (!precedes(xid, snapshot.xmax)) return false;
  return !snapshot.xip.includes(xid);
}
