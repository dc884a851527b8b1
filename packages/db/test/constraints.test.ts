import { createTestDatabase, type TestDatabase } from "@superset/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let t: TestDatabase;
const q = (sql: string, params: unknown[] = []) => t.db.$client.query(sql, params);

async function insertOne(sql: string, params: unknown[]): Promise<string> {
  const { rows } = await q(`${sql} returning id`, params);
  return rows[0].id;
}

/** Resolves to the Postgres error of a statement that must fail. */
async function failure(sql: string, params: unknown[] = []): Promise<{ code: string; constraint?: string }> {
  try {
    await q(sql, params);
  } catch (error) {
    return error as { code: string; constraint?: string };
  }
  throw new Error(`statement succeeded but should have failed: ${sql}`);
}

let orgA: string;
let orgB: string;
let alice: string;
let bob: string;
let sessionA: string;
let sessionB: string;

beforeAll(async () => {
  t = await createTestDatabase();
  orgA = await insertOne("insert into organizations (name, slug) values ('A', 'a')", []);
  orgB = await insertOne("insert into organizations (name, slug) values ('B', 'b')", []);
  alice = await insertOne("insert into users (name, email) values ('Alice', 'alice@example.com')", []);
  bob = await insertOne("insert into users (name, email) values ('Bob', 'bob@example.com')", []);
  await q("insert into members (organization_id, user_id, role) values ($1, $2, 'owner')", [orgA, alice]);
  await q("insert into members (organization_id, user_id, role) values ($1, $2, 'owner')", [orgB, bob]);
  sessionA = await insertOne(
    "insert into chat_sessions (organization_id, title, created_by_id) values ($1, 'A chat', $2)",
    [orgA, alice],
  );
  sessionB = await insertOne(
    "insert into chat_sessions (organization_id, title, created_by_id) values ($1, 'B chat', $2)",
    [orgB, bob],
  );
});
afterAll(() => t.drop());

describe("constraints", () => {
  it("accept a valid participant and message", async () => {
    await q(
      "insert into chat_participants (session_id, organization_id, user_id, role) values ($1, $2, $3, 'owner')",
      [sessionA, orgA, alice],
    );
    const id = await insertOne(
      "insert into chat_messages (session_id, organization_id, role, content, created_by_id) values ($1, $2, 'user', 'hi', $3)",
      [sessionA, orgA, alice],
    );
    const { rows } = await q("select status, claim_count from chat_messages where id = $1", [id]);
    expect(rows[0]).toEqual({ status: "pending", claim_count: 0 });
  });

  it("reject a participant role outside owner, editor, viewer", async () => {
    const error = await failure(
      "insert into chat_participants (session_id, organization_id, user_id, role) values ($1, $2, $3, 'admin')",
      [sessionB, orgB, bob],
    );
    expect(error.constraint).toBe("chat_participants_role_check");
  });

  it("reject a second participant row for the same user and session", async () => {
    const error = await failure(
      "insert into chat_participants (session_id, organization_id, user_id, role) values ($1, $2, $3, 'viewer')",
      [sessionA, orgA, alice],
    );
    expect(error.constraint).toBe("chat_participants_session_user_unique");
  });

  it("reject a participant who is not a member of the session's organization", async () => {
    const error = await failure(
      "insert into chat_participants (session_id, organization_id, user_id, role) values ($1, $2, $3, 'viewer')",
      [sessionA, orgA, bob],
    );
    expect(error.constraint).toBe("chat_participants_membership_fk");
  });

  it("reject a message whose organization is not its session's", async () => {
    const error = await failure(
      "insert into chat_messages (session_id, organization_id, role, content, created_by_id) values ($1, $2, 'user', 'sneaky', $3)",
      [sessionA, orgB, bob],
    );
    expect(error.constraint).toBe("chat_messages_session_fk");
  });

  it("reject an unknown message role and status", async () => {
    const role = await failure(
      "insert into chat_messages (session_id, organization_id, role, content, created_by_id) values ($1, $2, 'system', 'x', $3)",
      [sessionA, orgA, alice],
    );
    expect(role.constraint).toBe("chat_messages_role_check");
    const status = await failure(
      "insert into chat_messages (session_id, organization_id, role, content, created_by_id, status) values ($1, $2, 'user', 'x', $3, 'running')",
      [sessionA, orgA, alice],
    );
    expect(status.constraint).toBe("chat_messages_status_check");
  });

  it("reject a claim without a device and lease, and a failure without an error", async () => {
    const claim = await failure(
      "insert into chat_messages (session_id, organization_id, role, content, created_by_id, status) values ($1, $2, 'user', 'x', $3, 'claimed')",
      [sessionA, orgA, alice],
    );
    expect(claim.constraint).toBe("chat_messages_claim_check");
    const failed = await failure(
      "insert into chat_messages (session_id, organization_id, role, content, created_by_id, status) values ($1, $2, 'user', 'x', $3, 'failed')",
      [sessionA, orgA, alice],
    );
    expect(failed.constraint).toBe("chat_messages_failed_has_error");
  });

  it("allow one assistant answer per user message", async () => {
    const prompt = await insertOne(
      "insert into chat_messages (session_id, organization_id, role, content, created_by_id) values ($1, $2, 'user', 'q', $3)",
      [sessionA, orgA, alice],
    );
    const answer =
      "insert into chat_messages (session_id, organization_id, role, content, created_by_id, status, reply_to_id) values ($1, $2, 'assistant', 'a', $3, 'done', $4)";
    await q(answer, [sessionA, orgA, alice, prompt]);
    const error = await failure(answer, [sessionA, orgA, alice, prompt]);
    expect(error.constraint).toBe("chat_messages_reply_to_unique");
  });

  it("reject a session whose repository belongs to another organization", async () => {
    const repoB = await insertOne("insert into repositories (organization_id, name) values ($1, 'b-repo')", [
      orgB,
    ]);
    const error = await failure(
      "insert into chat_sessions (organization_id, repository_id, title, created_by_id) values ($1, $2, 't', $3)",
      [orgA, repoB, alice],
    );
    expect(error.constraint).toBe("chat_sessions_repository_fk");
  });

  it("reject an empty title and a device owned by a non-member", async () => {
    const title = await failure(
      "insert into chat_sessions (organization_id, title, created_by_id) values ($1, '', $2)",
      [orgA, alice],
    );
    expect(title.constraint).toBe("chat_sessions_title_length");
    const device = await failure(
      "insert into devices (organization_id, owner_id, name, token_hash) values ($1, $2, 'laptop', 'h1')",
      [orgA, bob],
    );
    expect(device.constraint).toBe("devices_owner_membership_fk");
  });

  it("remove a member's participations when the membership ends", async () => {
    const carol = await insertOne(
      "insert into users (name, email) values ('Carol', 'carol@example.com')",
      [],
    );
    await q("insert into members (organization_id, user_id) values ($1, $2)", [orgA, carol]);
    await q("insert into chat_participants (session_id, organization_id, user_id) values ($1, $2, $3)", [
      sessionA,
      orgA,
      carol,
    ]);
    await q("delete from members where organization_id = $1 and user_id = $2", [orgA, carol]);
    const { rowCount } = await q("select 1 from chat_participants where user_id = $1", [carol]);
    expect(rowCount).toBe(0);
  });
});
