import { createCollection } from "@tanstack/db";
import { electricCollectionOptions } from "@tanstack/electric-db-collection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, SECRET, startHarness } from "./support/harness";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    setupSql:
      "create table todos (id int primary key, title text not null, done boolean not null default false);",
  });
});
afterAll(() => h?.close());

type Todo = { id: number; title: string; done: boolean };

describe("@tanstack/electric-db-collection", () => {
  it("confirms an optimistic insert when the write's txid arrives", async () => {
    await h.sql("insert into todos (id, title) values (1, 'existing')");
    const writes: number[] = [];
    const collection = createCollection(
      electricCollectionOptions<Todo>({
        id: "todos",
        shapeOptions: { url: h.shapeUrl, params: { table: "todos", secret: SECRET } as never },
        getKey: (todo) => todo.id,
        onInsert: async ({ transaction }) => {
          const client = await h.t.db.$client.connect();
          try {
            await client.query("begin");
            for (const mutation of transaction.mutations) {
              await client.query("insert into todos (id, title, done) values ($1, $2, $3)", [
                mutation.modified.id,
                mutation.modified.title,
                mutation.modified.done,
              ]);
            }
            const result = await client.query<{ txid: string }>(
              "select pg_current_xact_id()::xid::text as txid",
            );
            await client.query("commit");
            const txid = Number(result.rows[0]?.txid);
            writes.push(txid);
            return { txid };
          } finally {
            client.release();
          }
        },
      }),
    );
    try {
      await collection.preload();
      expect(collection.get(1)).toMatchObject({ id: 1, title: "existing", done: false, $synced: true });

      const tx = collection.insert({ id: 2, title: "optimistic", done: true });
      expect(collection.get(2)).toMatchObject({ title: "optimistic", $synced: false });
      await tx.isPersisted.promise;
      expect(writes).toHaveLength(1);
      // Persisted means the row came back through the shape with the write's txid.
      expect(collection.get(2)).toMatchObject({ id: 2, title: "optimistic", done: true, $synced: true });
      expect(collection.size).toBe(2);
    } finally {
      await collection.cleanup();
    }
  });
});
