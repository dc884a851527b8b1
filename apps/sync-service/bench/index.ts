/**
 * Benchmark: commit-to-client latency with 1, 100 and 1000 live shapes, and
 * the initial sync time of a 10,000-row shape, through the official client.
 * Uses DATABASE_URL when set, otherwise a throwaway embedded Postgres.
 *
 *   npm run bench -w @superset/sync-service
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isChangeMessage, type Row, ShapeStream } from "@electric-sql/client";
import { startEmbeddedPostgres } from "@superset/db/embedded";
import pg from "pg";
import pino from "pino";
import { startSyncService } from "../src/server";

const SECRET = "bench-secret";
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const LEVELS = [1, 100, 1000];
const BIG_ROWS = 10_000;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "sync-bench-"));
  const embedded = process.env.DATABASE_URL
    ? null
    : await startEmbeddedPostgres({ dataDir: path.join(tmp, "pg") });
  const adminUrl = process.env.DATABASE_URL ?? (embedded?.url as string);
  const dbName = `bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const db = new pg.Pool({ connectionString: url.toString(), max: 4 });
  await db.query(`
    create table bench_items (id bigserial primary key, shard int not null, payload text not null);
    create table bench_big (id int primary key, title text not null, n int not null, payload text not null);
    insert into bench_big select g, 'row ' || g, g % 100, repeat('x', 100) from generate_series(1, ${BIG_ROWS}) g;`);

  const service = await startSyncService({
    databaseUrl: url.toString(),
    dataDir: path.join(tmp, "data"),
    streamId: "bench",
    secret: SECRET,
    port: 0,
    logger: pino({ level: "warn" }),
  });
  const shapeUrl = `${service.url}/v1/shape`;
  const results: string[] = [];
  const loopStalls: string[] = [];

  try {
    for (const count of LEVELS) {
      const controller = new AbortController();
      const waiting = new Map<string, (at: number) => void>();
      const streams: ShapeStream<Row>[] = [];
      for (let shard = 0; shard < count; shard++) {
        const stream = new ShapeStream<Row>({
          url: shapeUrl,
          params: { table: "bench_items", where: `shard = ${shard}`, secret: SECRET } as never,
          signal: controller.signal,
        });
        stream.subscribe((messages) => {
          const at = performance.now();
          for (const m of messages) if (isChangeMessage(m)) waiting.get(String(m.value.payload))?.(at);
        });
        streams.push(stream);
      }
      while (!streams.every((s) => s.isUpToDate)) await sleep(20);
      await sleep(200);

      const loopDelay = monitorEventLoopDelay({ resolution: 5 });
      loopDelay.enable();
      const latencies: number[] = [];
      const afterCommit: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const shard = Math.floor(Math.random() * count);
        const payload = `${count}-${i}`;
        const received = new Promise<number>((resolve) => waiting.set(payload, resolve));
        const sent = performance.now();
        await db.query("insert into bench_items (shard, payload) values ($1, $2)", [shard, payload]);
        const committed = performance.now();
        const at = await received;
        latencies.push(at - sent);
        afterCommit.push(Math.max(0, at - committed));
        waiting.delete(payload);
        await sleep(5);
      }
      loopDelay.disable();
      loopStalls.push(
        `${count} shape${count > 1 ? "s" : ""}: p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
      );
      latencies.sort((a, b) => a - b);
      afterCommit.sort((a, b) => a - b);
      results.push(
        `| commit acknowledged → client, ${count} live shape${count > 1 ? "s" : ""} | ${percentile(afterCommit, 50).toFixed(1)} ms | ${percentile(afterCommit, 99).toFixed(1)} ms | ${SAMPLES} inserts |`,
      );
      results.push(
        `| INSERT sent → client, ${count} live shape${count > 1 ? "s" : ""} | ${percentile(latencies, 50).toFixed(1)} ms | ${percentile(latencies, 99).toFixed(1)} ms | ${SAMPLES} inserts |`,
      );
      controller.abort();
      // Let the server see the disconnects before the shapes go (else it answers 409s to nobody).
      await sleep(500);
      for (const stream of streams) {
        const shape = stream.shapeHandle ? service.engine.getShape(stream.shapeHandle) : undefined;
        if (shape) service.engine.delete(shape);
      }
    }

    const syncTimes: number[] = [];
    for (let run = 0; run < 3; run++) {
      const controller = new AbortController();
      const started = performance.now();
      const stream = new ShapeStream<Row>({
        url: shapeUrl,
        // A distinct where each run: every run takes a fresh snapshot.
        params: { table: "bench_big", where: `id > ${-run}`, secret: SECRET } as never,
        signal: controller.signal,
      });
      let rows = 0;
      await new Promise<void>((resolve) => {
        stream.subscribe((messages) => {
          rows += messages.filter(isChangeMessage).length;
          if (stream.isUpToDate) resolve();
        });
      });
      syncTimes.push(performance.now() - started);
      controller.abort();
      if (rows !== BIG_ROWS) throw new Error(`expected ${BIG_ROWS} rows, got ${rows}`);
    }
    syncTimes.sort((a, b) => a - b);
    results.push(
      `| initial sync, ${BIG_ROWS.toLocaleString("en")}-row shape (snapshot + transfer + client parse) | ${percentile(syncTimes, 50).toFixed(0)} ms (median of 3) | max ${syncTimes.at(-1)?.toFixed(0)} ms | 3 fresh shapes |`,
    );

    const memory = process.memoryUsage();
    const out = [
      "",
      `sync-service bench (${os.cpus().length} CPUs, Node ${process.version}, shared noisy machine)`,
      "",
      "| measure | p50 | p99 | samples |",
      "|---|---|---|---|",
      ...results,
      "",
      `event-loop delay during the latency runs (service and clients share one process): ${loopStalls.join("; ")}`,
      `process RSS at the end: ${(memory.rss / 1024 / 1024).toFixed(0)} MiB (service, client streams and pg in one process)`,
      "",
    ];
    process.stdout.write(out.join("\n"));
  } finally {
    await service.stop({ dropSlot: true });
    await db.end();
    await admin.query(`drop database ${dbName} with (force)`);
    await admin.end();
    await embedded?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
