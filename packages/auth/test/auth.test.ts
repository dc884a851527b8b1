import { createAuth, getAuthenticatedSession } from "@superset/auth";
import { members, organizations } from "@superset/db/schema";
import { createTestDatabase, type TestDatabase } from "@superset/db/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let t: TestDatabase;
let auth: ReturnType<typeof createAuth>;
const baseURL = "http://localhost:3001";

beforeAll(async () => {
  t = await createTestDatabase();
  auth = createAuth({ db: t.db, secret: "test-secret-".repeat(4), baseURL, rateLimit: false });
});
afterAll(() => t.drop());

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return auth.handler(
    new Request(`${baseURL}/api/auth${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: baseURL, ...headers },
      body: JSON.stringify(body),
    }),
  );
}

describe("auth", () => {
  it("signs up a user and gives them an organization they own", async () => {
    const res = await post("/sign-up/email", {
      name: "Ada",
      email: "ada@example.com",
      password: "correct horse",
    });
    expect(res.status).toBe(200);
    const { user } = (await res.json()) as { user: { id: string } };
    const rows = await t.db
      .select({ role: members.role, name: organizations.name })
      .from(members)
      .innerJoin(organizations, eq(organizations.id, members.organizationId))
      .where(eq(members.userId, user.id));
    expect(rows).toEqual([{ role: "owner", name: "Ada's organization" }]);
  });

  it("signs in with a cookie whose session has the organization active", async () => {
    const res = await post("/sign-in/email", { email: "ada@example.com", password: "correct horse" });
    expect(res.status).toBe(200);
    const cookie = res.headers.get("set-cookie") ?? "";
    expect(cookie).toContain("better-auth.session_token");
    const session = await getAuthenticatedSession(auth, t.db, new Headers({ cookie }));
    expect(session?.user.email).toBe("ada@example.com");
    expect(session?.organizationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(session?.memberRole).toBe("owner");
  });

  it("refuses a wrong password", async () => {
    const res = await post("/sign-in/email", { email: "ada@example.com", password: "wrong password" });
    expect(res.status).toBe(401);
  });

  it("accepts the bearer token of a sign-in (desktop and scripts)", async () => {
    const res = await post("/sign-in/email", { email: "ada@example.com", password: "correct horse" });
    const token = res.headers.get("set-auth-token");
    expect(token).toBeTruthy();
    const session = await getAuthenticatedSession(
      auth,
      t.db,
      new Headers({ authorization: `Bearer ${token}` }),
    );
    expect(session?.user.email).toBe("ada@example.com");
    const forged = await getAuthenticatedSession(auth, t.db, new Headers({ authorization: "Bearer forged" }));
    expect(forged).toBeNull();
  });

  it("creates another organization and invites a member into it", async () => {
    const signIn = await post("/sign-in/email", { email: "ada@example.com", password: "correct horse" });
    const headers = { authorization: `Bearer ${signIn.headers.get("set-auth-token")}` };
    const created = await post("/organization/create", { name: "Lab", slug: "lab-test" }, headers);
    expect(created.status).toBe(200);
    const org = (await created.json()) as { id: string };
    await post("/sign-up/email", { name: "Bo", email: "bo@example.com", password: "another pass" });
    const invited = await post(
      "/organization/invite-member",
      { email: "bo@example.com", role: "member", organizationId: org.id },
      headers,
    );
    expect(invited.status).toBe(200);
    const invitation = (await invited.json()) as { id: string };
    const boSignIn = await post("/sign-in/email", { email: "bo@example.com", password: "another pass" });
    const boHeaders = { authorization: `Bearer ${boSignIn.headers.get("set-auth-token")}` };
    const accepted = await post(
      "/organization/accept-invitation",
      { invitationId: invitation.id },
      boHeaders,
    );
    expect(accepted.status).toBe(200);
    const membership = await t.db.select().from(members).where(eq(members.organizationId, org.id));
    expect(membership.map((m) => m.role).sort()).toEqual(["member", "owner"]);
  });

  it("drops the organization of a session whose membership was removed", async () => {
    const signIn = await post("/sign-in/email", { email: "bo@example.com", password: "another pass" });
    const headers = new Headers({ authorization: `Bearer ${signIn.headers.get("set-auth-token")}` });
    const before = await getAuthenticatedSession(auth, t.db, headers);
    expect(before?.organizationId).toBeTruthy();
    await t.db.delete(members).where(eq(members.organizationId, before?.organizationId ?? ""));
    const after = await getAuthenticatedSession(auth, t.db, headers);
    expect(after?.user.email).toBe("bo@example.com");
    expect(after?.organizationId).toBeNull();
  });
});
