import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Harness, SECRET, startHarness } from "./support/harness";
import { StrictMaterializer } from "./support/materialize";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    setupSql: `
      create table rows (id int primary key, v int not null, grp int not null);
      create table ledger (id int primary key, balance int not null);
      insert into rows select g, 0, g % 3 from generate_series(1, 3000) g;
      insert into ledger select g, 100 from generate_series(1, 10) g;`,
  });
});
afterAll(() => h?.close());

/** Random multi-statement transactions on `rows`: inserts, updates, moves between groups, deletes. */
async function writer(seed: number, stop: { done: boolean }): Promise<number> {
  const client = await h.t.db.$client.connect();
  let n = 0;
  let next = 100_000 * (seed + 1);
  try {
    while (!stop.done) {
      await client.query("begin");
      await client.query("insert into rows (id, v, grp) values ($1, $2, $3)", [next++, n, n % 3]);
      await client.query(
        "update rows set v = v + 1 where id = (select id from rows order by random() limit 1)",
      );
      await client.query(
        "update rows set grp = (grp + 1) % 3 where id = (select id from rows order by random() limit 1)",
      );
      if (n % 4 === 0)
        await client.query("delete from rows where id = (select id from rows order by random() limit 1)");
      await client.query("commit");
      n++;
    }
  } finally {
    client.release();
  }
  return n;
}

describe("snapshot and stream consistency", () => {
  it("loses and doubles nothing while writers commit during each snapshot (30 shapes)", async () => {
    const stop = { done: false };
    const writers = [writer(0, stop), writer(1, stop), writer(2, stop)];
    const aborts: AbortController[] = [];
    const shapes: Array<{ where: string; m: StrictMaterializer }> = [];
    try {
      for (let i = 0; i < 30; i++) {
        // A distinct where clause each time forces a new snapshot while writes go on.
        const where = `grp = ${i % 3} AND id > ${-i - 1}`;
        const controller = new AbortController();
        aborts.push(controller);
        const m = StrictMaterializer.follow(
          h.shapeUrl,
          { table: "rows", where, secret: SECRET },
          controller.signal,
          i % 2 === 1,
        );
        shapes.push({ where, m });
        // One snapshot at a time, each with the writers running through it.
        await eventually(() => m.upToDateCount > 0);
      }
    } finally {
      stop.done = true;
    }
    const committed = (await Promise.all(writers)).reduce((a, b) => a + b, 0);
    expect(committed).toBeGreaterThan(30);
    try {
      for (const { where, m } of shapes) {
        const expected = await h.sql<{ id: number; v: number; grp: number }>(
          `select id, v, grp from rows where ${where} order by id`,
        );
        const render = () =>
          JSON.stringify(
            [...m.rows.values()]
              .map((r) => ({ id: r.id, v: r.v, grp: r.grp }))
              .sort((a, b) => Number(a.id) - Number(b.id)),
          );
        await eventually(() => render() === JSON.stringify(expected), 20_000).catch(() => {
          expect(render()).toBe(JSON.stringify(expected));
        });
        expect(m.errors).toEqual([]);
      }
    } finally {
      for (const c of aborts) c.abort();
    }
  });

  it("delivers each transaction whole: a transfer never shows half-done", async () => {
    const controller = new AbortController();
    const m = StrictMaterializer.follow(h.shapeUrl, { table: "ledger", secret: SECRET }, controller.signal);
    const totals: number[] = [];
    m.onUpToDate = (rows) => totals.push([...rows.values()].reduce((sum, r) => sum + Number(r.balance), 0));
    try {
      await eventually(() => m.upToDateCount > 0);
      const client = await h.t.db.$client.connect();
      try {
        for (let i = 0; i < 60; i++) {
          const [from, to] = [1 + (i % 10), 1 + ((i * 7 + 3) % 10)];
          await client.query("begin");
          await client.query("update ledger set balance = balance - 5 where id = $1", [from]);
          await client.query("update ledger set balance = balance + 5 where id = $1", [to]);
          await client.query("commit");
        }
      } finally {
        client.release();
      }
      const expected = await h.sql<{ balance: number }>("select balance from ledger order by id");
      await eventually(() =>
        [...m.rows.values()]
          .sort((a, b) => Number(a.id) - Number(b.id))
          .every((r, i) => r.balance === expected[i]?.balance),
      );
      expect(new Set(totals)).toEqual(new Set([1000]));
      expect(m.errors).toEqual([]);
    } finally {
      controller.abort();
    }
  });
});
