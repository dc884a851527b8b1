import { ShapeStream } from "@electric-sql/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEnv } from "../src/env";
import { eventually, type Harness, SECRET, startHarness } from "./support/harness";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    setupSql: "create table notes (id int primary key, body text, meta jsonb); create table nopk (a int);",
  });
});
afterAll(() => h?.close());

const get = (query: string) => fetch(`${h.shapeUrl}?${query}`);
const q = (params: Record<string, string>) =>
  new URLSearchParams({ secret: SECRET, offset: "-1", ...params }).toString();

describe("Shape HTTP API", () => {
  it("answers /v1/health as Electric does, without a secret", async () => {
    const res = await fetch(`${h.service.url}/v1/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "active" });
    expect((await fetch(`${h.service.url}/health`)).status).toBe(200);
  });

  it("refuses requests without the secret, or with a wrong one", async () => {
    expect((await get("table=notes&offset=-1")).status).toBe(401);
    const wrong = await get("table=notes&offset=-1&secret=nope");
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ message: expect.stringMatching(/secret/) });
  });

  it("sends the headers the client needs, with Electric's cache headers", async () => {
    const res = await get(q({ table: "notes" }));
    expect(res.status).toBe(200);
    expect(res.headers.get("electric-handle")).toBeTruthy();
    expect(res.headers.get("electric-offset")).toBe("0_inf");
    expect(JSON.parse(res.headers.get("electric-schema") ?? "{}")).toEqual({
      id: { type: "int4", pk_index: 0, not_null: true },
      body: { type: "text" },
      meta: { type: "jsonb" },
    });
    expect(res.headers.has("electric-up-to-date")).toBe(true);
    expect(res.headers.get("cache-control")).toMatch(/max-age=604800/);
    expect(res.headers.get("access-control-expose-headers")).toMatch(/electric-offset/);
    expect(await res.json()).toEqual([
      {
        headers: {
          control: "snapshot-end",
          xmin: expect.any(String),
          xmax: expect.any(String),
          xip_list: expect.any(Array),
        },
      },
      { headers: { control: "up-to-date" } },
    ]);
  });

  it.each([
    [{ table: "notes", where: "upper(body) = 'X'" }, /function call upper/],
    [{ table: "notes", where: "meta = '{}'" }, /column "meta" of type jsonb/],
    [{ table: "notes", where: "id = $1" }, /parameter \$1 is not given/],
    [{ table: "notes", where: "id = 'abc'" }, /invalid int4 value 'abc'/],
    [{ table: "notes", where: "body = 'x'; drop table notes" }, /operator ";"/],
    [{ table: "missing" }, /table "public"."missing" does not exist/],
    [{ table: "nopk" }, /no primary key/],
    [{ table: "notes", columns: "body" }, /primary key column "id"/],
    [{ table: "notes", columns: "id,secret" }, /unknown column "secret"/],
    [{ table: "notes", replica: "half" }, /replica must be/],
    [{ table: "notes", offset: "banana" }, /offset "banana"/],
    [{ table: "notes", offset: "0_inf" }, /handle is required/],
  ])("answers 400 with a clear message for %o", async (params, message) => {
    const res = await get(q(params));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(message);
  });

  it("sends a handle used with another definition to refetch that definition's shape", async () => {
    const first = await get(q({ table: "notes", where: "id > 0" }));
    const handle = first.headers.get("electric-handle") as string;
    const res = await get(q({ table: "notes", where: "id > 1", offset: "0_inf", handle }));
    expect(res.status).toBe(409);
    const other = await get(q({ table: "notes", where: "id > 1" }));
    expect(res.headers.get("electric-handle")).toBe(other.headers.get("electric-handle"));
    expect(res.headers.get("electric-handle")).not.toBe(handle);
  });

  it("answers a long-poll with up-to-date when nothing happens before the timeout", async () => {
    const first = await get(q({ table: "notes", where: "id = 999" }));
    const handle = first.headers.get("electric-handle") as string;
    const res = await get(
      q({ table: "notes", where: "id = 999", offset: "0_inf", handle, live: "true", cursor: "1" }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("electric-cursor")).toMatch(/^\d+$/);
    expect(res.headers.get("electric-offset")).toBe("0_inf");
    expect(res.headers.get("cache-control")).toMatch(/max-age=5/);
    expect(await res.json()).toEqual([{ headers: { control: "up-to-date" } }]);
  });

  it("sends no snapshot rows with log=changes_only, then the changes", async () => {
    await h.sql("insert into notes (id, body) values (20, 'changes-only before')");
    const first = await get(q({ table: "notes", where: "body LIKE 'changes-only%'", log: "changes_only" }));
    const handle = first.headers.get("electric-handle") as string;
    const messages = (await first.json()) as Array<{ key?: string }>;
    expect(messages.filter((m) => m.key)).toEqual([]);
    await h.sql("insert into notes (id, body) values (21, 'changes-only after')");
    let rows: Array<{ value?: { id: string } }> = [];
    await eventually(async () => {
      const res = await get(
        q({
          table: "notes",
          where: "body LIKE 'changes-only%'",
          log: "changes_only",
          offset: "0_inf",
          handle,
        }),
      );
      rows = ((await res.json()) as Array<{ value?: { id: string } }>).filter((m) => m.value);
      return rows.length > 0;
    });
    expect(rows.map((m) => m.value?.id)).toEqual(["21"]);
  });

  it("starts at the tail with offset=now", async () => {
    await h.sql("insert into notes (id, body) values (1, 'before')");
    const res = await get(q({ table: "notes", where: "body IS NOT NULL", offset: "now" }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([{ headers: { control: "up-to-date" } }]);
  });

  it("resumes a shape after a restart without a refetch, and forces a 409 when the slot is gone", async () => {
    const controller = new AbortController();
    const stream = new ShapeStream({
      url: h.shapeUrl,
      params: { table: "notes", where: "body LIKE 'r%'", secret: SECRET } as never,
      signal: controller.signal,
    });
    const seen: unknown[] = [];
    stream.subscribe((messages) => {
      seen.push(...messages);
    });
    await eventually(() => stream.isUpToDate);
    controller.abort();
    const { shapeHandle: handle, lastOffset } = stream;

    await h.restart();
    await h.sql("insert into notes (id, body) values (10, 'restarted')");
    const where = "body LIKE 'r%'";
    let res: Response | undefined;
    await eventually(async () => {
      res = await get(q({ table: "notes", where, offset: lastOffset, handle: handle as string }));
      const body = (await res.clone().json()) as unknown[];
      return res.status !== 200 || body.length > 1;
    });
    expect(res?.status).toBe(200);
    expect(((await (res as Response).json()) as unknown[])[0]).toMatchObject({
      value: { id: "10", body: "restarted" },
    });

    await h.restart({ dropSlot: true });
    const gone = await get(q({ table: "notes", where, offset: lastOffset, handle: handle as string }));
    expect(gone.status).toBe(409);
  });
});

describe("configuration", () => {
  it("fails at start naming the variable that is wrong", () => {
    expect(() => loadEnv({ DATABASE_URL: "postgres://x@localhost/db" })).toThrowError(
      /ELECTRIC_SECRET is required/,
    );
    expect(() => loadEnv({ DATABASE_URL: "nope", ELECTRIC_INSECURE: "true" })).toThrowError(/DATABASE_URL/);
    expect(() =>
      loadEnv({ DATABASE_URL: "postgres://x@localhost/db", ELECTRIC_SECRET: "s", PORT: "abc" }),
    ).toThrowError(/PORT/);
    expect(loadEnv({ DATABASE_URL: "postgres://x@localhost/db", ELECTRIC_INSECURE: "true" }).PORT).toBe(3000);
  });
});
