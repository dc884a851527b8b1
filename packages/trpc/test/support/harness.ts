import { createAuth } from "@superset/auth";
import { members, repositories, sessions } from "@superset/db/schema";
import { createTestDatabase, type TestDatabase } from "@superset/db/testing";
import {
  type ApiDeps,
  appRouter,
  type ChatConfig,
  createCallerFactory,
  createTRPCContext,
} from "@superset/trpc";
import { and, eq } from "drizzle-orm";

export const STREAM_SECRET = "stream-secret-for-tests-0123456789abcdef";
export const STREAM_URL = "http://127.0.0.1:8080";

const createCaller = createCallerFactory(appRouter);
export type Caller = ReturnType<typeof createCaller>;

export interface TestUser {
  id: string;
  name: string;
  email: string;
  token: string;
  organizationId: string;
  api: Caller;
}

export interface TestDevice {
  id: string;
  token: string;
  api: Caller;
}

/** A migrated database of its own, better-auth on it, and helpers to make members and devices. */
export async function createHarness(config?: Partial<ChatConfig>) {
  const t: TestDatabase = await createTestDatabase();
  const auth = createAuth({
    db: t.db,
    secret: "test-secret-".repeat(4),
    baseURL: "http://127.0.0.1",
    rateLimit: false,
  });
  const deps: ApiDeps = {
    db: t.db,
    auth,
    streamAuthSecret: STREAM_SECRET,
    streamUrl: STREAM_URL,
    chat: config,
  };
  let counter = 0;

  const callerFor = async (headers: Headers) => createCaller(await createTRPCContext({ headers, deps }));

  /** Signs a user up (they own an organization of their own); with `joinOrganizationId`, they act in that one. */
  async function user(name: string, options: { joinOrganizationId?: string; memberRole?: string } = {}) {
    const email = `${name.toLowerCase()}-${++counter}@example.com`;
    const res = await auth.api.signUpEmail({
      body: { name, email, password: "password-123" },
      asResponse: true,
    });
    const token = res.headers.get("set-auth-token");
    if (!token) throw new Error(`sign-up of ${name} failed: ${res.status}`);
    const headers = new Headers({ authorization: `Bearer ${token}` });
    const me = await (await callerFor(headers)).me.get();
    let organizationId = me.organizationId;
    if (options.joinOrganizationId) {
      organizationId = options.joinOrganizationId;
      await t.db
        .insert(members)
        .values({ organizationId, userId: me.user.id, role: options.memberRole ?? "member" });
      await t.db
        .update(sessions)
        .set({ activeOrganizationId: organizationId })
        .where(eq(sessions.userId, me.user.id));
    }
    return { id: me.user.id, name, email, token, organizationId, api: await callerFor(headers) } as TestUser;
  }

  async function device(
    owner: TestUser,
    workspaceIds: string[] = ["ws-1"],
    name = "Desk",
  ): Promise<TestDevice> {
    const registered = await owner.api.device.register({ name, workspaceIds });
    return {
      id: registered.deviceId,
      token: registered.deviceToken,
      api: await callerFor(new Headers({ "x-device-token": registered.deviceToken })),
    };
  }

  async function removeMember(userId: string, organizationId: string) {
    await t.db
      .delete(members)
      .where(and(eq(members.userId, userId), eq(members.organizationId, organizationId)));
  }

  async function repository(organizationId: string, name = `repo-${++counter}`): Promise<string> {
    const [repo] = await t.db.insert(repositories).values({ organizationId, name }).returning();
    if (!repo) throw new Error("repository insert returned nothing");
    return repo.id;
  }

  return { t, db: t.db, auth, deps, user, device, repository, callerFor, removeMember, drop: () => t.drop() };
}
export type Harness = Awaited<ReturnType<typeof createHarness>>;
