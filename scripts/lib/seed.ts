import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createAuth } from "@superset/auth";
import type { Database } from "@superset/db/client";
import {
  chatParticipants,
  chatSessions,
  members,
  organizations,
  repositories,
  users,
} from "@superset/db/schema";
import { and, eq, ne } from "drizzle-orm";

export const DEMO_PASSWORD = "demo-password";
export const DEMO_USERS = [
  { name: "Alice", email: "alice@demo.local" },
  { name: "Bob", email: "bob@demo.local" },
] as const;
export const DEMO_WORKSPACE_ID = "demo";

export interface DemoData {
  organizationId: string;
  sessionId: string;
  workspaceDir: string;
}

/**
 * Seeds the demo organization once: Alice owns it, Bob is a member, and a first
 * chat session points at the demo workspace. Running it again changes nothing.
 */
export async function seedDemo(db: Database, opts: { authSecret: string; baseURL: string; dataDir: string }) {
  const auth = createAuth({ db, secret: opts.authSecret, baseURL: opts.baseURL, rateLimit: false });
  const ids: string[] = [];
  for (const user of DEMO_USERS) {
    const [existing] = await db.select({ id: users.id }).from(users).where(eq(users.email, user.email));
    if (existing) {
      ids.push(existing.id);
      continue;
    }
    const { user: created } = await auth.api.signUpEmail({ body: { ...user, password: DEMO_PASSWORD } });
    ids.push(created.id);
  }
  const [aliceId, bobId] = ids as [string, string];

  const [aliceMembership] = await db
    .select({ organizationId: members.organizationId })
    .from(members)
    .where(and(eq(members.userId, aliceId), eq(members.role, "owner")))
    .limit(1);
  if (!aliceMembership) throw new Error("demo seed: Alice has no organization");
  const organizationId = aliceMembership.organizationId;
  await db.update(organizations).set({ name: "Demo" }).where(eq(organizations.id, organizationId));

  // Bob works in the demo organization only.
  await db.delete(organizations).where(
    and(
      ne(organizations.id, organizationId),
      eq(
        organizations.id,
        db
          .select({ id: members.organizationId })
          .from(members)
          .where(and(eq(members.userId, bobId), eq(members.role, "owner")))
          .limit(1),
      ),
    ),
  );
  await db.insert(members).values({ organizationId, userId: bobId, role: "member" }).onConflictDoNothing();

  const workspaceDir = path.join(opts.dataDir, "demo-workspace");
  mkdirSync(workspaceDir, { recursive: true });
  writeFileSync(
    path.join(workspaceDir, "README.md"),
    "# Demo workspace\n\nClaude runs here when you chat in the demo session.\n",
  );

  const [repo] = await db
    .insert(repositories)
    .values({ organizationId, name: "demo" })
    .onConflictDoUpdate({ target: [repositories.organizationId, repositories.name], set: { name: "demo" } })
    .returning({ id: repositories.id });
  let [session] = await db
    .select({ id: chatSessions.id })
    .from(chatSessions)
    .where(
      and(eq(chatSessions.organizationId, organizationId), eq(chatSessions.workspaceId, DEMO_WORKSPACE_ID)),
    )
    .limit(1);
  if (!session) {
    [session] = await db
      .insert(chatSessions)
      .values({
        organizationId,
        repositoryId: repo?.id,
        workspaceId: DEMO_WORKSPACE_ID,
        title: "Welcome to Superset",
        cwd: workspaceDir,
        createdById: aliceId,
      })
      .returning({ id: chatSessions.id });
    if (!session) throw new Error("demo seed: session insert returned nothing");
    await db.insert(chatParticipants).values([
      { sessionId: session.id, organizationId, userId: aliceId, role: "owner" },
      { sessionId: session.id, organizationId, userId: bobId, role: "editor" },
    ]);
  }
  return { organizationId, sessionId: session.id, workspaceDir } satisfies DemoData;
}
