import { createAuth } from "@superset/auth";
import { members } from "@superset/db/schema";
import { createTestDatabase, type TestDatabase } from "@superset/db/testing";
import { appRouter, createCallerFactory, createTRPCContext } from "@superset/trpc";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let t: TestDatabase;
let auth: ReturnType<typeof createAuth>;
const baseURL = "http://localhost:3001";
const createCaller = createCallerFactory(appRouter);

beforeAll(async () => {
  t = await createTestDatabase();
  auth = createAuth({ db: t.db, secret: "test-secret-".repeat(4), baseURL, rateLimit: false });
});
afterAll(() => t.drop());

async function signUp(name: string, email: string): Promise<Headers> {
  const res = await auth.api.signUpEmail({
    body: { name, email, password: "password-123" },
    asResponse: true,
  });
  return new Headers({ authorization: `Bearer ${res.headers.get("set-auth-token")}` });
}

async function caller(headers: Headers) {
  const deps = { db: t.db, auth, streamAuthSecret: "x".repeat(32), streamUrl: "http://localhost:8080" };
  return createCaller(await createTRPCContext({ headers, deps }));
}

describe("protectedProcedure", () => {
  it("lets a member in, scoped to the active organization", async () => {
    const headers = await signUp("Ann", "ann@example.com");
    const me = await (await caller(headers)).me.get();
    expect(me.user.email).toBe("ann@example.com");
    expect(me.memberRole).toBe("owner");
  });

  it("refuses a request without credentials", async () => {
    await expect((await caller(new Headers())).me.get()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("refuses a signed-in user who is no longer a member of the active organization", async () => {
    const headers = await signUp("Ben", "ben@example.com");
    const me = await (await caller(headers)).me.get();
    await t.db.delete(members).where(eq(members.organizationId, me.organizationId));
    await expect((await caller(headers)).me.get()).rejects.toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringMatching(/organization/),
    });
  });
});
