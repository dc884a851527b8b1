import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEmbeddedPostgres } from "./embedded";
import { dbEnv } from "./env";
import { ensureDatabase, migrateDatabase } from "./migrate";
import { TEMPLATE_DATABASE, TEST_PG_URL_ENV } from "./testing";

/**
 * Vitest globalSetup: makes sure a Postgres server with a migrated template
 * database is there. `npm test` starts one for all workspaces and passes it in
 * SUPERSET_TEST_PG_URL; a workspace run on its own starts a throwaway embedded one.
 */
export async function prepareTestPostgres(): Promise<{ url: string; stop: () => Promise<void> }> {
  const given = process.env[TEST_PG_URL_ENV] ?? dbEnv.DATABASE_URL;
  if (given) {
    await migrateDatabase(await ensureDatabase(given, TEMPLATE_DATABASE));
    return { url: given, stop: async () => {} };
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "superset-test-pg-"));
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, "data") });
  await migrateDatabase(await ensureDatabase(pg.url, TEMPLATE_DATABASE));
  return {
    url: pg.url,
    stop: async () => {
      await pg.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export default async function setup() {
  const pg = await prepareTestPostgres();
  process.env[TEST_PG_URL_ENV] = pg.url;
  return pg.stop;
}
