/**
 * Postgres text values as the where-clause evaluator compares them. Values
 * arrive as Postgres text output (UTC session, ISO dates) both from the
 * snapshot and from pgoutput; each supported type maps to a JS value with
 * the same equality and order.
 */

export type ValueKind = "text" | "uuid" | "int" | "float" | "bool" | "timestamp" | "timestamptz" | "date";

export type Comparable = string | bigint | number | boolean;

const KIND_BY_TYPE: Record<string, ValueKind> = {
  text: "text",
  varchar: "text",
  bpchar: "text",
  name: "text",
  citext: "text",
  uuid: "uuid",
  int2: "int",
  int4: "int",
  int8: "int",
  oid: "int",
  float4: "float",
  float8: "float",
  numeric: "float",
  bool: "bool",
  timestamp: "timestamp",
  timestamptz: "timestamptz",
  date: "date",
};

/** The kind of a scalar column type, or null when where clauses cannot compare it. */
export function kindOfType(typeName: string, dims: number): ValueKind | null {
  if (dims > 0) return null;
  return KIND_BY_TYPE[typeName] ?? null;
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?$/i;

const BOOL_TRUE = new Set(["t", "true", "yes", "y", "on", "1"]);
const BOOL_FALSE = new Set(["f", "false", "no", "n", "off", "0"]);

function daysFromCivil(y: number, m: number, d: number): number {
  return Math.floor(Date.UTC(y, m - 1, d) / 86_400_000);
}

function offsetSeconds(zone: string | undefined): number {
  if (!zone || zone.toUpperCase() === "Z") return 0;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replaceAll(":", "");
  const h = Number(digits.slice(0, 2));
  const m = Number(digits.slice(2, 4) || "0");
  const s = Number(digits.slice(4, 6) || "0");
  return sign * (h * 3600 + m * 60 + s);
}

function parseTimestamp(text: string, withZone: boolean): bigint | null {
  const match = TIMESTAMP_RE.exec(text.trim());
  if (!match) return null;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone] = match;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 24 || Number(mi) > 59 || Number(s) > 60) {
    return null;
  }
  const days = BigInt(daysFromCivil(Number(y), month, day));
  const seconds = BigInt(Number(h) * 3600 + Number(mi) * 60 + Number(s));
  // Postgres ignores a zone given for `timestamp without time zone`; the session zone is UTC.
  const shift = withZone ? BigInt(offsetSeconds(zone)) : 0n;
  const micros = BigInt((frac || "0").padEnd(6, "0"));
  return (days * 86_400n + seconds - shift) * 1_000_000n + micros;
}

/** Converts a Postgres text value (or a client literal) to its comparable form; null when invalid. */
export function toComparable(kind: ValueKind, text: string): Comparable | null {
  switch (kind) {
    case "text":
      return text;
    case "uuid":
      return UUID_RE.test(text) ? text.replaceAll("-", "").toLowerCase() : null;
    case "int":
      return INT_RE.test(text.trim()) ? BigInt(text.trim()) : null;
    case "float": {
      const t = text.trim();
      if (FLOAT_RE.test(t)) return Number(t);
      if (/^nan$/i.test(t)) return Number.NaN;
      if (/^[+-]?infinity$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
      return null;
    }
    case "bool": {
      const t = text.trim().toLowerCase();
      if (BOOL_TRUE.has(t)) return true;
      if (BOOL_FALSE.has(t)) return false;
      return null;
    }
    case "timestamp":
    case "timestamptz":
      return parseTimestamp(text, kind === "timestamptz");
    case "date": {
      const match = DATE_RE.exec(text.trim());
      if (!match) return null;
      const [, y, m, d] = match;
      return daysFromCivil(Number(y), Number(m), Number(d));
    }
  }
}

/** -1, 0 or 1; both values of the same kind. */
export function compareValues(a: Comparable, b: Comparable): number {
  if (typeof a === "boolean" && typeof b === "boolean") return a === b ? 0 : a ? 1 : -1;
  if (typeof a === "number" && typeof b === "number" && (Number.isNaN(a) || Number.isNaN(b))) {
    // Postgres sorts NaN above every other number and equal to itself.
    return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
