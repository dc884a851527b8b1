import { createTestDatabase, type TestDatabase } from "@superset/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../src/migrate";
import { REPLICATED_TABLES } from "../src/schema";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

describe("migrations", () => {
  it("apply to the template and can run again without changes", async () => {
    const before = await t.db.$client.query("select count(*)::int as n from drizzle.__drizzle_migrations");
    await migrateDatabase(t.url);
    const after = await t.db.$client.query("select count(*)::int as n from drizzle.__drizzle_migrations");
    expect(before.rows[0].n).toBeGreaterThanOrEqual(2);
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it("create every table of the plan and the auth tables", async () => {
    const { rows } = await t.db.$client.query(
      "select table_name from information_schema.tables where table_schema = 'public'",
    );
    const names = rows.map((r) => r.table_name);
    for (const table of [
      "users",
      "sessions",
      "accounts",
      "verifications",
      "organizations",
      "members",
      "invitations",
      "repositories",
      "devices",
      "chat_sessions",
      "chat_messages",
      "chat_participants",
      "chat_approvals",
    ]) {
      expect(names).toContain(table);
    }
  });

  it("set REPLICA IDENTITY FULL on every replicated table", async () => {
    const { rows } = await t.db.$client.query(
      "select relname, relreplident from pg_class where relname = any($1::text[])",
      [REPLICATED_TABLES],
    );
    expect(rows).toHaveLength(REPLICATED_TABLES.length);
    for (const row of rows) expect(row.relreplident, row.relname).toBe("f");
  });
});
