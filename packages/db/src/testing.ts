import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDb, type Database } from "./client";
import { withDatabase } from "./migrate";

/** Name of the migrated database every test database is cloned from. */
export const TEMPLATE_DATABASE = "superset_test_template";
/** Admin URL of the test Postgres server, set by the test global setup. */
export const TEST_PG_URL_ENV = "SUPERSET_TEST_PG_URL";

export interface TestDatabase {
  url: string;
  db: Database;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env[TEST_PG_URL_ENV];
  if (!url) {
    throw new Error(
      `${TEST_PG_URL_ENV} is not set: run tests through "npm test" or add @superset/db/test-setup as vitest globalSetup`,
    );
  }
  return url;
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh, fully migrated database of its own for one test file (cloned from the template). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  await withAdmin(async (client) => {
    // CREATE DATABASE … TEMPLATE fails while another session clones the template: retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`create database "${name}" template "${TEMPLATE_DATABASE}"`);
        return;
      } catch (error) {
        if (attempt > 50 || !String(error).includes("being accessed by other users")) throw error;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  });
  const url = withDatabase(adminUrl(), name);
  const db = createDb(url);
  return {
    url,
    db,
    drop: async () => {
      await db.$client.end();
      await withAdmin((client) => client.query(`drop database if exists "${name}" with (force)`));
    },
  };
}
