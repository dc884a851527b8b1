import type { AddressInfo } from "node:net";
import { isChangeMessage, type Message, type Row, ShapeStream } from "@electric-sql/client";
import { createAdaptorServer } from "@hono/node-server";
import { createAuth } from "@superset/auth";
import { createTestDatabase, type TestDatabase } from "@superset/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createElectricProxy } from "~/lib/electric-proxy";
import { SYNC_SECRET, type SyncServiceProcess, startSyncServiceProcess } from "./support/electric";

let t: TestDatabase;
let sync: SyncServiceProcess;
let server: ReturnType<typeof createAdaptorServer>;
let base: string;
let auth: ReturnType<typeof createAuth>;
let handler: (req: Request) => Promise<Response> = async () => new Response("starting", { status: 503 });

interface User {
  id: string;
  organizationId: string;
  bearer: Headers;
  cookie: Headers;
}

async function signUp(name: string): Promise<User> {
  const res = await auth.api.signUpEmail({
    body: { name, email: `${name.toLowerCase()}@example.com`, password: "password-123" },
    asResponse: true,
  });
  const token = res.headers.get("set-auth-token") as string;
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] as string;
  const { user } = (await res.json()) as { user: { id: string } };
  const [member] = (
    await t.db.$client.query("select organization_id from members where user_id = $1", [user.id])
  ).rows;
  return {
    id: user.id,
    organizationId: member.organization_id,
    bearer: new Headers({ authorization: `Bearer ${token}` }),
    cookie: new Headers({ cookie }),
  };
}

const sql = async (text: string, values: unknown[] = []) => (await t.db.$client.query(text, values)).rows;

/** Adds `user` to Ann's organization and makes it their active one. */
async function joinAnnsOrganization(user: User): Promise<User> {
  await sql("insert into members (organization_id, user_id, role) values ($1, $2, 'member')", [
    ann.organizationId,
    user.id,
  ]);
  await auth.api.setActiveOrganization({
    headers: user.bearer,
    body: { organizationId: ann.organizationId },
  });
  return { ...user, organizationId: ann.organizationId };
}

async function newSession(user: User, title: string, participants: User[]) {
  const [session] = await sql(
    "insert into chat_sessions (organization_id, title, created_by_id) values ($1, $2, $3) returning id",
    [user.organizationId, title, user.id],
  );
  for (const p of participants) {
    await sql(
      "insert into chat_participants (session_id, organization_id, user_id, role) values ($1, $2, $3, 'editor')",
      [session.id, user.organizationId, p.id],
    );
  }
  return session.id as string;
}

async function message(
  sessionId: string,
  orgId: string,
  userId: string,
  content: string,
  status = "pending",
) {
  const [row] = await sql(
    "insert into chat_messages (session_id, organization_id, role, content, created_by_id, status) values ($1, $2, 'user', $3, $4, $5) returning id",
    [sessionId, orgId, content, userId, status],
  );
  return row.id as string;
}

/** One non-live request through the proxy: status, headers and messages. */
async function shape(headers: Headers, params: Record<string, string>, path = "/api/electric/v1/shape") {
  const res = await fetch(`${base}${path}?${new URLSearchParams({ offset: "-1", ...params })}`, { headers });
  const body = await res.text();
  let messages: Message<Row>[] = [];
  try {
    messages = JSON.parse(body);
  } catch {
    // error bodies are objects, checked by the caller
  }
  return {
    res,
    body,
    rows: Array.isArray(messages) ? messages.filter(isChangeMessage).map((m) => m.value) : [],
  };
}

let ann: User; // organization A, owner
let cleo: User; // member of A, participant of one session only
let bob: User; // organization B
let annSession: string;
let sharedSession: string;

beforeAll(async () => {
  t = await createTestDatabase();
  sync = await startSyncServiceProcess(t.url);
  server = createAdaptorServer({ fetch: (req: Request) => handler(req), hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  auth = createAuth({
    db: t.db,
    secret: "electric-proxy-test-secret-".repeat(2),
    baseURL: base,
    rateLimit: false,
  });
  handler = createElectricProxy({ auth, db: t.db, electricUrl: sync.url, electricSecret: SYNC_SECRET });

  ann = await signUp("Ann");
  bob = await signUp("Bob");
  cleo = await joinAnnsOrganization(await signUp("Cleo"));

  annSession = await newSession(ann, "Ann only", [ann]);
  sharedSession = await newSession(ann, "Shared", [ann, cleo]);
  await message(annSession, ann.organizationId, ann.id, "private to ann");
  await message(sharedSession, ann.organizationId, ann.id, "shared hello");
  await sql("insert into repositories (organization_id, name) values ($1, 'ann-repo')", [ann.organizationId]);
  await sql("insert into repositories (organization_id, name) values ($1, 'bob-repo')", [bob.organizationId]);
  await sql(
    "insert into devices (organization_id, owner_id, name, token_hash) values ($1, $2, 'ann-laptop', 'secret-hash-of-ann')",
    [ann.organizationId, ann.id],
  );
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.close(() => resolve());
    (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
  });
  await sync?.stop();
  await t?.drop();
});

describe("Electric proxy", () => {
  it("answers 401 without credentials, and with a bad bearer token", async () => {
    expect((await shape(new Headers(), { table: "chat_messages" })).res.status).toBe(401);
    expect(
      (await shape(new Headers({ authorization: "Bearer nope" }), { table: "chat_messages" })).res.status,
    ).toBe(401);
  });

  it("accepts the session cookie as well as a bearer token", async () => {
    const byCookie = await shape(ann.cookie, { table: "repositories" });
    expect(byCookie.res.status).toBe(200);
    expect(byCookie.rows.map((r) => r.name)).toEqual(["ann-repo"]);
  });

  it("shows a user of organization B nothing of A, even when B asks for A by id", async () => {
    for (const table of [
      "repositories",
      "devices",
      "chat_sessions",
      "chat_messages",
      "chat_participants",
      "chat_approvals",
    ]) {
      const plain = await shape(bob.bearer, { table });
      expect(plain.res.status).toBe(200);
      expect(plain.rows.filter((r) => r.organization_id === ann.organizationId)).toEqual([]);
      const targeted = await shape(bob.bearer, {
        table,
        where: "organization_id = $1",
        "params[1]": ann.organizationId,
      });
      expect(targeted.res.status).toBe(200);
      expect(targeted.rows).toEqual([]);
    }
    expect((await shape(bob.bearer, { table: "repositories" })).rows.map((r) => r.name)).toEqual([
      "bob-repo",
    ]);
  });

  it("shows a member only the sessions and messages they take part in", async () => {
    const sessions = await shape(cleo.bearer, { table: "chat_sessions" });
    expect(sessions.rows.map((r) => r.title)).toEqual(["Shared"]);
    const messages = await shape(cleo.bearer, { table: "chat_messages" });
    expect(messages.rows.map((r) => r.content)).toEqual(["shared hello"]);
    const asked = await shape(cleo.bearer, {
      table: "chat_messages",
      where: "session_id = $1",
      "params[1]": annSession,
    });
    expect(asked.rows).toEqual([]);
    const owner = await shape(ann.bearer, { table: "chat_messages" });
    expect(owner.rows.map((r) => r.content).sort()).toEqual(["private to ann", "shared hello"]);
  });

  it.each([
    ["true) OR (true", /unbalanced/],
    ["1 = 1)) OR ((1 = 1", /unbalanced/],
    ["true OR true --", /comments/],
    ["true /* ) OR (true */", /comments/],
    ["content = E'\\'' ) OR (true'", /prefixed string/],
    ["content = $$x$$", /dollar quoting/],
    ["true; select 1", /statement separators/],
  ])("refuses a client where that tries to leave its parentheses: %s", async (where, reason) => {
    const res = await shape(cleo.bearer, { table: "chat_messages", where });
    expect(res.res.status).toBe(400);
    expect(JSON.parse(res.body).message).toMatch(reason);
  });

  it("lets a client where narrow but never widen the scope", async () => {
    const widened = await shape(cleo.bearer, {
      table: "chat_messages",
      where: "organization_id IS NOT NULL OR true",
    });
    expect(widened.res.status).toBe(200);
    expect(widened.rows.map((r) => r.content)).toEqual(["shared hello"]);
    const narrowed = await shape(ann.bearer, { table: "chat_messages", where: "content LIKE 'shared%'" });
    expect(narrowed.rows.map((r) => r.content)).toEqual(["shared hello"]);
  });

  it("never exposes devices.token_hash, by default, by columns or by where", async () => {
    const devices = await shape(ann.bearer, { table: "devices" });
    expect(devices.rows).toHaveLength(1);
    expect(devices.rows[0]).not.toHaveProperty("token_hash");
    expect(devices.body).not.toContain("secret-hash-of-ann");
    for (const columns of ["id,token_hash", "id,TOKEN_HASH", 'id,"token_hash"', "id, Token_Hash "]) {
      expect((await shape(ann.bearer, { table: "devices", columns })).res.status).toBe(403);
    }
    const chosen = await shape(ann.bearer, { table: "devices", columns: "id,NAME" });
    expect(chosen.rows).toEqual([{ id: expect.any(String), name: "ann-laptop" }]);
    expect((await shape(ann.bearer, { table: "devices", where: "token_hash LIKE 's%'" })).res.status).toBe(
      400,
    );
    expect(
      (await shape(ann.bearer, { table: "devices", where: '"TOKEN_HASH" IS NOT NULL' })).res.status,
    ).toBe(400);
  });

  it("allows only the synced tables", async () => {
    for (const table of [
      "users",
      "sessions",
      "accounts",
      "members",
      "public.sessions",
      '"users"',
      "chat_messages; drop",
    ]) {
      const res = await shape(ann.bearer, { table });
      expect(res.res.status).toBe(403);
    }
  });

  it("normalises the path: doubled slashes reach the same checks, dot segments and other paths are refused", async () => {
    expect(
      (await shape(new Headers(), { table: "repositories" }, "/api/electric//v1//shape")).res.status,
    ).toBe(401);
    expect(
      (await shape(ann.bearer, { table: "repositories" }, "/api/electric//v1//shape")).rows.map(
        (r) => r.name,
      ),
    ).toEqual(["ann-repo"]);
    // fetch resolves literal and %2e dot segments itself; encoded slashes reach the proxy, which refuses them.
    expect(
      (await shape(ann.bearer, { table: "repositories" }, "/api/electric/v1%2F..%2Fv1%2Fshape")).res.status,
    ).toBe(404);
    expect((await shape(ann.bearer, { table: "repositories" }, "/api/electric/v1%2Fshape")).res.status).toBe(
      200,
    );
    expect((await shape(ann.bearer, { table: "repositories" }, "/api/electric/v2/shape")).res.status).toBe(
      404,
    );
  });

  it("passes only protocol parameters, adds its secret and hides it, and sets Vary and private caching", async () => {
    const res = await shape(ann.bearer, {
      table: "repositories",
      secret: "client-guess",
      api_secret: "x",
      subset__where: "true",
    });
    expect(res.res.status).toBe(200);
    expect(res.res.headers.get("vary")).toMatch(/Cookie/);
    expect(res.res.headers.get("vary")).toMatch(/Authorization/);
    expect(res.res.headers.get("cache-control")).toMatch(/^private/);
    expect(res.res.headers.get("content-encoding")).toBeNull();
    expect(res.res.headers.get("electric-handle")).toBeTruthy();
    const everything = `${res.body}${JSON.stringify([...res.res.headers])}`;
    expect(everything).not.toContain(SYNC_SECRET);
  });

  it.each([
    ["long-poll", false],
    ["SSE", true],
  ])(
    "serves the desktop's subscription to open user messages, live over %s, with bearer auth",
    async (mode, liveSse) => {
      const open = await sql(
        "select content from chat_messages where session_id = $1 and role = 'user' and status in ('pending', 'claimed') order by created_at",
        [sharedSession],
      );
      const controller = new AbortController();
      const received: Row[] = [];
      const stream = new ShapeStream<Row>({
        url: `${base}/api/electric/v1/shape`,
        params: {
          table: "chat_messages",
          where: "role = 'user' AND status IN ('pending', 'claimed') AND session_id IN ($1)",
          params: [sharedSession],
        },
        headers: { authorization: cleo.bearer.get("authorization") as string },
        signal: controller.signal,
        liveSse,
      });
      stream.subscribe((messages) => {
        for (const m of messages) if (isChangeMessage(m)) received.push(m.value);
      });
      try {
        await waitFor(() => stream.isUpToDate);
        expect(received.map((r) => r.content)).toEqual(open.map((r) => r.content));
        await message(sharedSession, ann.organizationId, ann.id, `already done (${mode})`, "done");
        await message(annSession, ann.organizationId, ann.id, `not cleo's (${mode})`);
        await message(sharedSession, ann.organizationId, ann.id, `new prompt (${mode})`);
        await waitFor(() => received.some((r) => r.content === `new prompt (${mode})`));
        expect(received.map((r) => r.content)).toEqual([
          ...open.map((r) => r.content),
          `new prompt (${mode})`,
        ]);
      } finally {
        controller.abort();
      }
    },
  );

  it("sends a client to refetch when it joins a session, so the new session's messages appear", async () => {
    const first = await shape(bob.bearer, { table: "chat_sessions" });
    const handle = first.res.headers.get("electric-handle") as string;
    const bobSession = await newSession(bob, "Bob's", [bob]);
    const again = await shape(bob.bearer, { table: "chat_sessions", offset: "0_inf", handle });
    expect(again.res.status).toBe(409);
    const fresh = await shape(bob.bearer, { table: "chat_sessions" });
    expect(fresh.rows.map((r) => r.id)).toEqual([bobSession]);
  });
  it("shows a user their own new participation row, and still nothing of sessions they are not in", async () => {
    const dan = await joinAnnsOrganization(await signUp("Dan"));
    const before = await shape(dan.bearer, { table: "chat_participants" });
    expect(before.res.status).toBe(200);
    expect(before.rows).toEqual([]);
    // A live request waiting on the shape Dan had before joining is ended by his new participation row
    // (before, it waited for the long-poll timeout: the new session was not in its scope). If the request
    // reaches the proxy only after the join, the scope has changed and it is sent to refetch (409): try again.
    let joined = "";
    let woken: Row[] = [];
    for (let attempt = 0; attempt < 5 && woken.length === 0; attempt++) {
      const current = await shape(dan.bearer, { table: "chat_participants" });
      const live = shape(dan.bearer, {
        table: "chat_participants",
        live: "true",
        handle: current.res.headers.get("electric-handle") as string,
        offset: current.res.headers.get("electric-offset") as string,
      });
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      joined = await newSession(ann, `Dan joins ${attempt}`, [ann, dan]);
      const result = await live;
      if (result.res.status === 409) continue;
      expect(result.res.status).toBe(200);
      woken = result.rows;
    }
    expect(woken.map((r) => `${r.session_id} ${r.user_id}`)).toEqual([`${joined} ${dan.id}`]);
    // Dan sees the sessions' participants (his own rows included)...
    const after = await shape(dan.bearer, { table: "chat_participants" });
    expect(
      after.rows
        .filter((r) => r.session_id === joined)
        .map((r) => r.user_id)
        .sort(),
    ).toEqual([ann.id, dan.id].sort());
    // ...and his own rows alone through a client where, but nothing of sessions he is not in.
    const own = await shape(dan.bearer, { table: "chat_participants", where: `user_id = '${dan.id}'` });
    expect(own.rows.map((r) => r.session_id)).toContain(joined);
    expect(own.rows.every((r) => r.user_id === dan.id)).toBe(true);
    const others = await shape(dan.bearer, {
      table: "chat_participants",
      where: "session_id IN ($1, $2)",
      "params[1]": annSession,
      "params[2]": sharedSession,
    });
    expect(others.rows).toEqual([]);
    // Someone else's participation never shows, even asked for by user id.
    const cleos = await shape(dan.bearer, { table: "chat_participants", where: `user_id = '${cleo.id}'` });
    expect(cleos.rows).toEqual([]);
    // Bob, of organization B, sees only participation rows of B, none of A (Dan's or anyone's).
    const bobs = await shape(bob.bearer, { table: "chat_participants" });
    expect(bobs.rows.filter((r) => r.organization_id !== bob.organizationId)).toEqual([]);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
