import { describe, expect, it } from "vitest";
import { type ColumnInfo, compileWhere } from "./where";

const columns: ColumnInfo[] = [
  { name: "id", type: "uuid", dims: 0, notNull: true, pkIndex: 0 },
  { name: "role", type: "text", dims: 0, notNull: true, pkIndex: null },
  { name: "status", type: "text", dims: 0, notNull: true, pkIndex: null },
  { name: "claim_count", type: "int4", dims: 0, notNull: true, pkIndex: null },
  { name: "cost", type: "numeric", dims: 0, notNull: false, pkIndex: null },
  { name: "done", type: "bool", dims: 0, notNull: false, pkIndex: null },
  { name: "created_at", type: "timestamptz", dims: 0, notNull: true, pkIndex: null },
  { name: "tool_calls", type: "jsonb", dims: 0, notNull: false, pkIndex: null },
  { name: "Mixed Case", type: "text", dims: 0, notNull: false, pkIndex: null },
];

const row = {
  id: "6f1c1e3a-1b2c-4d5e-8f90-123456789abc",
  role: "user",
  status: "pending",
  claim_count: "2",
  cost: "0.125000",
  done: "f",
  created_at: "2026-11-26 10:00:00.5+00",
  tool_calls: null,
  "Mixed Case": "Hello",
};

const evaluate = (where: string, params: string[] = []) => compileWhere(where, columns, params).evaluate(row);

describe("where clauses", () => {
  it("evaluates comparisons with the column's type", () => {
    expect(evaluate("role = 'user' AND status IN ('pending', 'claimed')")).toBe(true);
    expect(evaluate("claim_count >= 2 and claim_count < 10")).toBe(true);
    expect(evaluate("claim_count > 10")).toBe(false);
    expect(evaluate("cost > 0.1")).toBe(true);
    expect(evaluate("id = $1", ["6F1C1E3A-1B2C-4D5E-8F90-123456789ABC"])).toBe(true);
    expect(evaluate("created_at > $1", ["2026-11-26T10:00:00Z"])).toBe(true);
    expect(evaluate("created_at < '2026-11-26 11:00:00+01'")).toBe(false);
    expect(evaluate("NOT done")).toBe(true);
    expect(evaluate("\"Mixed Case\" ILIKE 'hel%'")).toBe(true);
    expect(evaluate("role LIKE 'u_er' AND role NOT LIKE '%x%'")).toBe(true);
    expect(evaluate("status NOT IN ('done', 'failed')")).toBe(true);
  });

  it("follows SQL's three-valued logic for NULL", () => {
    expect(evaluate("tool_calls IS NULL")).toBe(true);
    expect(evaluate("cost IS NOT NULL")).toBe(true);
    expect(evaluate("role = NULL")).toBe(null);
    expect(evaluate("role = NULL OR role = 'user'")).toBe(true);
    expect(evaluate("NOT (role = NULL)")).toBe(null);
    expect(evaluate("status NOT IN ('done', NULL)")).toBe(null);
  });

  it("compiles to parameterised SQL, never with the client's text inside", () => {
    const compiled = compileWhere("role = 'x''); drop table users; --' OR claim_count = $1", columns, ["3"]);
    expect(compiled.sql).toBe(`(("role" COLLATE "C" = $1::"text") OR ("claim_count" = $2::"int4"))`);
    expect(compiled.values).toEqual(["x'); drop table users; --", "3"]);
  });

  it.each([
    ["upper(role) = 'USER'", /function call upper/],
    ["role || 'x' = 'userx'", /operator "\|\|"/],
    ["claim_count::text = '2'", /operator "::"/],
    ["claim_count BETWEEN 1 AND 3", /BETWEEN/],
    ["id = ANY($1)", /function call any|ANY/],
    ["tool_calls = '{}'", /column "tool_calls" of type jsonb/],
    ["nope = 1", /unknown column "nope"/],
    ["id = 'not-a-uuid'", /invalid uuid value/],
    ["claim_count = $2", /parameter \$2 is not given/],
    ["role = 'open", /unterminated string/],
    ["role IS TRUE", /IS true/],
    ["m.role = 'user'", /qualified column name/],
    ["role = 'a' AND", /ends too early/],
    ["role", /not a condition/],
  ])("refuses %s with a 400 that says why", (where, message) => {
    expect(() => compileWhere(where, columns, ["x"])).toThrowError(message);
    try {
      compileWhere(where, columns, ["x"]);
    } catch (error) {
      expect((error as { status: number }).status).toBe(400);
    }
  });
});
