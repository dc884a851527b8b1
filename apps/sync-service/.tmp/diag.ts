import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isChangeMessage, type Row, ShapeStream } from "@electric-sql/client";
import { startEmbeddedPostgres } from "@superset/db/embedded";
import pg from "pg";
import pino from "pino";
import { startSyncService } from "../src/server";
import { Shape } from "../src/shapes/shape";

const tmp = mkdtempSync(path.join(os.tmpdir(), "diag-"));
const emb = await startEmbeddedPostgres({ dataDir: path.join(tmp, "pg") });
const db = new pg.Pool({ connectionString: emb.url, max: 2 });
await db.query(`create table t (id bigserial primary key, payload text not null);
  create table big (id int primary key, title text not null, n int not null, payload text not null);
  insert into big select g, 'row ' || g, g % 100, repeat('x', 100) from generate_series(1, 10000) g;`);
const svc = await startSyncService({
  databaseUrl: emb.url,
  dataDir: path.join(tmp, "d"),
  streamId: "diag",
  secret: null,
  port: 0,
  logger: pino({ level: "info" }),
});
const recv = new Map<string, number>();
const orig = Shape.prototype.receive;
Shape.prototype.receive = function (txn, changes) {
  const p = String(changes[0]?.new?.payload);
  recv.set(p, performance.now());
  return orig.call(this, txn, changes);
};
for (let run = 0; run < 3; run++) {
  const t0 = performance.now();
  const res = await fetch(
    `${svc.url}/v1/shape?table=big&offset=-1&where=${encodeURIComponent(`id > ${-run}`)}`,
  );
  const t1 = performance.now();
  const text = await res.text();
  const t2 = performance.now();
  const s = new ShapeStream<Row>({
    url: `${svc.url}/v1/shape`,
    params: { table: "big", where: `id > ${-run}` } as never,
  });
  const t3 = performance.now();
  await new Promise<void>((r) =>
    s.subscribe(() => {
      if (s.isUpToDate) r();
    }),
  );
  console.log(
    `run ${run}: raw headers ${(t1 - t0).toFixed(0)}ms body ${(t2 - t1).toFixed(0)}ms size ${text.length}; client ${(performance.now() - t3).toFixed(0)}ms`,
  );
}
const ctrl = new AbortController();
const got = new Map<string, number>();
const s = new ShapeStream<Row>({
  url: `${svc.url}/v1/shape`,
  params: { table: "t" } as never,
  signal: ctrl.signal,
});
s.subscribe((ms) => {
  const at = performance.now();
  for (const m of ms) if (isChangeMessage(m)) got.set(String(m.value.payload), at);
});
while (!s.isUpToDate) await new Promise((r) => setTimeout(r, 10));
const rows: string[] = [];
for (let i = 0; i < 30; i++) {
  const p = `p${i}`;
  const a = performance.now();
  await db.query("insert into t (payload) values ($1)", [p]);
  const b = performance.now();
  while (!got.has(p)) await new Promise((r) => setTimeout(r, 1));
  rows.push(
    `commit ${(b - a).toFixed(1)} engine ${((recv.get(p) ?? 0) - a).toFixed(1)} client ${((got.get(p) ?? 0) - a).toFixed(1)}`,
  );
  await new Promise((r) => setTimeout(r, 5));
}
console.log(rows.slice(0, 15).join("\n"));
ctrl.abort();
await svc.stop({ dropSlot: true });
await db.end();
await emb.stop();
process.exit(0);
