import { badRequest } from "./errors";
import { type Comparable, compareValues, kindOfType, toComparable, type ValueKind } from "./values";
import { type CmpOp, type Operand, parseWhere, type WhereExpr } from "./where-parser";

/** A column of a shape's table, as read from the catalog. */
export interface ColumnInfo {
  name: string;
  /** Base type name (`int4`, `text`, `uuid`; the element type for arrays). */
  type: string;
  dims: number;
  notNull: boolean;
  /** Position in the primary key, or null. */
  pkIndex: number | null;
}

/** A row as Postgres text values. */
export type Row = Record<string, string | null | undefined>;

/** A where clause checked against a table: evaluates rows like Postgres and compiles to parameterised SQL. */
export interface CompiledWhere {
  /** true, false or null (unknown), with SQL's three-valued logic. */
  evaluate(row: Row): boolean | null;
  /** SQL text with $n placeholders starting at 1, and their values. */
  sql: string;
  values: string[];
  /** Columns the clause reads. */
  columns: Set<string>;
}

type Evaluator = (row: Row) => boolean | null;
type ValueFn = (row: Row) => Comparable | null;

interface Bound {
  kind: ValueKind | "unknown";
  /** SQL for the operand (a quoted column or a typed placeholder). */
  sql: string;
  value: ValueFn;
  column?: ColumnInfo;
}

export const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

function likeToRegExp(pattern: string, insensitive: boolean): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "\\") {
      const next = pattern[++i] ?? "";
      source += next.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    } else if (c === "%") source += "[\\s\\S]*";
    else if (c === "_") source += "[\\s\\S]";
    else source += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, insensitive ? "iu" : "u");
}

class Binder {
  readonly values: string[] = [];
  readonly columnsRead = new Set<string>();
  constructor(
    private readonly columns: Map<string, ColumnInfo>,
    private readonly params: readonly string[],
  ) {}

  private placeholder(text: string, type: string): string {
    this.values.push(text);
    return `$${this.values.length}::${quoteIdent(type)}`;
  }

  private column(name: string): ColumnInfo {
    const column = this.columns.get(name);
    if (!column) throw badRequest(`unknown column "${name}" in where clause`, "invalid_where");
    this.columnsRead.add(name);
    return column;
  }

  private rawText(operand: Operand): string | null {
    switch (operand.t) {
      case "str":
      case "num":
        return operand.value;
      case "bool":
        return String(operand.value);
      case "param": {
        const value = this.params[operand.index - 1];
        if (value === undefined)
          throw badRequest(
            `parameter $${operand.index} is not given (params[${operand.index}])`,
            "invalid_where",
          );
        return value;
      }
      default:
        return null;
    }
  }

  /** Binds a column, or a value typed as `kind` (or inferred from the literal when kind is unknown). */
  operand(operand: Operand, kind: ValueKind | "unknown", typeName: string, anyType = false): Bound {
    if (operand.t === "col") {
      const column = this.column(operand.name);
      const columnKind = kindOfType(column.type, column.dims);
      if (!columnKind && anyType) {
        const name = column.name;
        return { kind: "unknown", sql: quoteIdent(name), column, value: (row) => row[name] ?? null };
      }
      if (!columnKind) {
        throw badRequest(
          `unsupported in where clause: column "${column.name}" of type ${column.type}${column.dims ? "[]" : ""}`,
          "unsupported_where",
        );
      }
      const name = column.name;
      return {
        kind: columnKind,
        sql: quoteIdent(name),
        column,
        value: (row) => {
          const text = row[name];
          return text == null ? null : toComparable(columnKind, text);
        },
      };
    }
    if (operand.t === "null") return { kind, sql: "NULL", value: () => null };
    const text = this.rawText(operand) as string;
    let valueKind: ValueKind = kind === "unknown" ? "text" : kind;
    let type = typeName;
    if (kind === "unknown") {
      if (operand.t === "num") [valueKind, type] = ["float", "numeric"];
      else if (operand.t === "bool") [valueKind, type] = ["bool", "bool"];
      else type = "text";
    }
    const value = toComparable(valueKind, text);
    if (value === null) throw badRequest(`invalid ${type} value '${text}' in where clause`, "invalid_where");
    return { kind: valueKind, sql: this.placeholder(text, type), value: () => value };
  }

  /** Binds two operands that are compared with each other: a column's type wins. */
  pair(a: Operand, b: Operand): [Bound, Bound] {
    if (a.t === "col") {
      const left = this.operand(a, "unknown", "text");
      return [left, this.operand(b, left.kind, left.column?.type ?? "text")];
    }
    if (b.t === "col") {
      const right = this.operand(b, "unknown", "text");
      return [this.operand(a, right.kind, right.column?.type ?? "text"), right];
    }
    const left = this.operand(a, "unknown", "text");
    return [left, this.operand(b, left.kind === "unknown" ? "unknown" : left.kind, "text")];
  }

  expr(e: WhereExpr): { sql: string; evaluate: Evaluator } {
    switch (e.t) {
      case "and": {
        const [l, r] = [this.expr(e.l), this.expr(e.r)];
        return {
          sql: `(${l.sql} AND ${r.sql})`,
          evaluate: (row) => {
            const a = l.evaluate(row);
            if (a === false) return false;
            const b = r.evaluate(row);
            if (b === false) return false;
            return a === null || b === null ? null : true;
          },
        };
      }
      case "or": {
        const [l, r] = [this.expr(e.l), this.expr(e.r)];
        return {
          sql: `(${l.sql} OR ${r.sql})`,
          evaluate: (row) => {
            const a = l.evaluate(row);
            if (a === true) return true;
            const b = r.evaluate(row);
            if (b === true) return true;
            return a === null || b === null ? null : false;
          },
        };
      }
      case "not": {
        const inner = this.expr(e.e);
        return {
          sql: `(NOT ${inner.sql})`,
          evaluate: (row) => {
            const v = inner.evaluate(row);
            return v === null ? null : !v;
          },
        };
      }
      case "cmp":
        return this.comparison(e.op, e.l, e.r);
      case "in": {
        if (e.list.length > 1000) throw badRequest("IN lists are limited to 1000 values", "invalid_where");
        if (e.e.t !== "col") unsupported("IN on a value (put a column on the left)");
        const target = this.operand(e.e, "unknown", "text");
        const type = target.column?.type ?? "text";
        const items = e.list.map((item) => this.operand(item, target.kind, type));
        const sql = `(${target.sql}${target.kind === "text" ? ' COLLATE "C"' : ""} ${e.negated ? "NOT IN" : "IN"} (${items.map((i) => i.sql).join(", ")}))`;
        return {
          sql,
          evaluate: (row) => {
            const v = target.value(row);
            if (v === null) return null;
            let sawNull = false;
            for (const item of items) {
              const w = item.value(row);
              if (w === null) sawNull = true;
              else if (compareValues(v, w) === 0) return !e.negated;
            }
            return sawNull ? null : e.negated;
          },
        };
      }
      case "isnull": {
        const target = this.operand(e.e, "unknown", "text", true);
        const isNull = (row: Row) =>
          target.column ? row[target.column.name] == null : target.value(row) === null;
        return {
          sql: `(${target.sql} IS ${e.negated ? "NOT " : ""}NULL)`,
          evaluate: (row) => isNull(row) !== e.negated,
        };
      }
      case "like": {
        const target = this.operand(e.e, "text", "text");
        if (target.kind !== "text") {
          throw badRequest(
            `unsupported in where clause: LIKE on ${target.column?.type ?? "a non-text value"}`,
            "unsupported_where",
          );
        }
        if (e.pattern.t === "col") unsupported("LIKE with a column as pattern");
        const pattern = this.operand(e.pattern, "text", "text");
        const text = pattern.value({});
        const regexp = typeof text === "string" ? likeToRegExp(text, e.insensitive) : null;
        const op = `${e.negated ? "NOT " : ""}${e.insensitive ? "ILIKE" : "LIKE"}`;
        return {
          sql: `(${target.sql} ${op} ${pattern.sql})`,
          evaluate: (row) => {
            const v = target.value(row);
            if (v === null || regexp === null) return null;
            return regexp.test(v as string) !== e.negated;
          },
        };
      }
      case "ref": {
        const target = this.operand(e.e, "bool", "bool");
        if (target.kind !== "bool") {
          throw badRequest(
            `a ${target.column?.type ?? "value"} is not a condition: compare it with something`,
            "invalid_where",
          );
        }
        return { sql: `(${target.sql})`, evaluate: (row) => target.value(row) as boolean | null };
      }
    }
  }

  private comparison(op: CmpOp, a: Operand, b: Operand): { sql: string; evaluate: Evaluator } {
    const [l, r] = this.pair(a, b);
    if (l.kind !== r.kind && l.kind !== "unknown" && r.kind !== "unknown") {
      throw badRequest(
        `cannot compare ${l.column?.type ?? l.kind} with ${r.column?.type ?? r.kind}`,
        "invalid_where",
      );
    }
    const collate = l.kind === "text" || r.kind === "text" ? ' COLLATE "C"' : "";
    const test: Record<CmpOp, (c: number) => boolean> = {
      "=": (c) => c === 0,
      "<>": (c) => c !== 0,
      "<": (c) => c < 0,
      "<=": (c) => c <= 0,
      ">": (c) => c > 0,
      ">=": (c) => c >= 0,
    };
    const check = test[op];
    return {
      sql: `(${l.sql}${collate} ${op} ${r.sql})`,
      evaluate: (row) => {
        const x = l.value(row);
        if (x === null) return null;
        const y = r.value(row);
        if (y === null) return null;
        return check(compareValues(x, y));
      },
    };
  }
}

function unsupported(what: string): never {
  throw badRequest(`unsupported in where clause: ${what}`, "unsupported_where");
}

/** Parses and binds a where clause; every failure is a 400 that says what is wrong. */
export function compileWhere(
  where: string,
  columns: readonly ColumnInfo[],
  params: readonly string[],
): CompiledWhere {
  const tree = parseWhere(where);
  const binder = new Binder(new Map(columns.map((c) => [c.name, c])), params);
  const { sql, evaluate } = binder.expr(tree);
  return { sql, evaluate, values: binder.values, columns: binder.columnsRead };
}
