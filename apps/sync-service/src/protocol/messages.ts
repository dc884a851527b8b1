import type { ColumnInfo, CompiledWhere, Row } from "./where";

/** What a shape selects: its table's columns, the selected ones and the primary key. */
export interface ShapeView {
  schema: string;
  table: string;
  selected: readonly ColumnInfo[];
  pk: readonly string[];
  replica: "default" | "full";
  where: CompiledWhere | null;
}

/** One row change as decoded from pgoutput, values as Postgres text. */
export interface RowChange {
  kind: "insert" | "update" | "delete";
  old: Row | null;
  new: Row | null;
}

export type Operation = "insert" | "update" | "delete";

/** A change message before its offset and transaction headers are added. */
export interface ShapeChange {
  key: string;
  operation: Operation;
  value: Record<string, string | null>;
  old_value?: Record<string, string | null>;
}

const quoteKeyPart = (value: string) => `"${value.replaceAll('"', '""')}"`;

export function rowKey(view: ShapeView, row: Row): string {
  const prefix = `${quoteKeyPart(view.schema)}.${quoteKeyPart(view.table)}`;
  return [prefix, ...view.pk.map((c) => quoteKeyPart((row[c] ?? "").replaceAll("/", "//")))].join("/");
}

function project(view: ShapeView, row: Row, only?: (name: string) => boolean): Record<string, string | null> {
  const value: Record<string, string | null> = {};
  for (const column of view.selected) {
    if (only && !only(column.name)) continue;
    value[column.name] = row[column.name] ?? null;
  }
  return value;
}

const pkOnly = (view: ShapeView, row: Row) => project(view, row, (name) => view.pk.includes(name));

export const inShape = (view: ShapeView, row: Row | null): boolean =>
  row !== null && (view.where === null || view.where.evaluate(row) === true);

export function snapshotMessage(view: ShapeView, row: Row): ShapeChange {
  return { key: rowKey(view, row), operation: "insert", value: project(view, row) };
}

/**
 * The messages a row change means for one shape: an update that leaves the
 * where clause is a delete, one that enters it an insert, and an update of
 * the primary key a delete of the old key and an insert of the new one.
 */
export function changeMessages(view: ShapeView, change: RowChange): ShapeChange[] {
  const full = view.replica === "full";
  const wasIn = change.kind !== "insert" && inShape(view, change.old);
  const isIn = change.kind !== "delete" && inShape(view, change.new);
  const removal = (row: Row): ShapeChange => ({
    key: rowKey(view, row),
    operation: "delete",
    value: full ? project(view, row) : pkOnly(view, row),
  });
  const addition = (row: Row): ShapeChange => ({
    key: rowKey(view, row),
    operation: "insert",
    value: project(view, row),
  });

  if (change.kind === "insert") return isIn && change.new ? [addition(change.new)] : [];
  if (change.kind === "delete") return wasIn && change.old ? [removal(change.old)] : [];
  const before = change.old;
  const after = change.new;
  if (!after) return [];
  if (!before) return isIn ? [addition(after)] : [];
  if (wasIn && !isIn) return [removal(before)];
  if (!wasIn && isIn) return [addition(after)];
  if (!wasIn && !isIn) return [];
  const oldKey = rowKey(view, before);
  const newKey = rowKey(view, after);
  if (oldKey !== newKey) return [removal(before), addition(after)];
  const changed = view.selected
    .filter((c) => (before[c.name] ?? null) !== (after[c.name] ?? null))
    .map((c) => c.name);
  if (changed.length === 0) return [];
  const message: ShapeChange = {
    key: newKey,
    operation: "update",
    value: full
      ? project(view, after)
      : project(view, after, (name) => view.pk.includes(name) || changed.includes(name)),
  };
  if (full) message.old_value = project(view, before, (name) => changed.includes(name));
  return [message];
}

/** The electric-schema header: each selected column's type as Electric describes it. */
export function schemaHeader(view: ShapeView): string {
  const schema: Record<string, Record<string, unknown>> = {};
  for (const column of view.selected) {
    const info: Record<string, unknown> = { type: column.type };
    if (column.dims > 0) info.dims = column.dims;
    if (column.pkIndex !== null) info.pk_index = column.pkIndex;
    if (column.notNull) info.not_null = true;
    schema[column.name] = info;
  }
  return JSON.stringify(schema);
}

export const upToDateMessage = (globalLastSeenLsn?: string) =>
  JSON.stringify({
    headers:
      globalLastSeenLsn === undefined
        ? { control: "up-to-date" }
        : { control: "up-to-date", global_last_seen_lsn: globalLastSeenLsn },
  });

export const mustRefetchMessage = () => JSON.stringify({ headers: { control: "must-refetch" } });

export interface SnapshotBounds {
  xmin: string;
  xmax: string;
  xipList: string[];
}

export const snapshotEndMessage = (bounds: SnapshotBounds) =>
  JSON.stringify({
    headers: { control: "snapshot-end", xmin: bounds.xmin, xmax: bounds.xmax, xip_list: bounds.xipList },
  });
