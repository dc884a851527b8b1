import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createTestDatabase, type TestDatabase } from "@superset/db/testing";
import pino from "pino";
import { type RunningSyncService, startSyncService } from "../../src/server";

export const SECRET = "test-secret-for-the-shape-api";

export interface Harness {
  t: TestDatabase;
  service: RunningSyncService;
  dataDir: string;
  streamId: string;
  shapeUrl: string;
  /** Runs SQL on the test database. */
  sql<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<R[]>;
  restart(options?: { dropSlot?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** A migrated test database plus an in-process sync service on a free loopback port. */
export async function startHarness(
  options: { setupSql?: string; longPollTimeoutMs?: number; sseTimeoutMs?: number } = {},
): Promise<Harness> {
  const t = await createTestDatabase();
  if (options.setupSql) await t.db.$client.query(options.setupSql);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "sync-service-test-"));
  const streamId = `t${randomBytes(5).toString("hex")}`;
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const start = () =>
    startSyncService({
      databaseUrl: t.url,
      dataDir,
      streamId,
      secret: SECRET,
      port: 0,
      longPollTimeoutMs: options.longPollTimeoutMs ?? 2000,
      sseTimeoutMs: options.sseTimeoutMs ?? 5000,
      logger,
    });
  const harness: Harness = {
    t,
    service: await start(),
    dataDir,
    streamId,
    get shapeUrl() {
      return `${harness.service.url}/v1/shape`;
    },
    sql: async (text, values) => (await t.db.$client.query(text, values)).rows,
    restart: async (restartOptions) => {
      await harness.service.stop(restartOptions);
      harness.service = await start();
    },
    close: async () => {
      try {
        await harness.service.stop({ dropSlot: true });
      } finally {
        await t.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
  return harness;
}

/** Polls until `check` returns true (or throws its last failure after `timeoutMs`). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
