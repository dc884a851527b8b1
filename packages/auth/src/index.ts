import { randomBytes } from "node:crypto";
import type { Database } from "@superset/db/client";
import * as schema from "@superset/db/schema";
import { betterAuth } from "better-auth";
import { drizzleAdapter } from "better-auth/adapters/drizzle";
import { bearer, organization } from "better-auth/plugins";
import { and, asc, eq } from "drizzle-orm";

export interface AuthOptions {
  db: Database;
  /** At least 32 characters; signs session cookies. */
  secret: string;
  /** Public URL of the API that serves /api/auth (e.g. http://localhost:3001). */
  baseURL: string;
  trustedOrigins?: string[];
  /** better-auth's own rate limiter (on by default; tests that sign in many times turn it off). */
  rateLimit?: boolean;
}

function slugify(text: string): string {
  const base = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  return `${base || "org"}-${randomBytes(3).toString("hex")}`;
}

/** The first organization the user belongs to, used as the active one of a new session. */
async function firstOrganizationOf(db: Database, userId: string): Promise<string | null> {
  const [row] = await db
    .select({ organizationId: schema.members.organizationId })
    .from(schema.members)
    .where(eq(schema.members.userId, userId))
    .orderBy(asc(schema.members.createdAt))
    .limit(1);
  return row?.organizationId ?? null;
}

export function createAuth(options: AuthOptions) {
  const { db } = options;
  return betterAuth({
    appName: "Superset",
    secret: options.secret,
    baseURL: options.baseURL,
    basePath: "/api/auth",
    trustedOrigins: options.trustedOrigins,
    database: drizzleAdapter(db, {
      provider: "pg",
      usePlural: true,
      schema: {
        users: schema.users,
        sessions: schema.sessions,
        accounts: schema.accounts,
        verifications: schema.verifications,
        organizations: schema.organizations,
        members: schema.members,
        invitations: schema.invitations,
      },
    }),
    emailAndPassword: { enabled: true, minPasswordLength: 8, maxPasswordLength: 128 },
    rateLimit: { enabled: options.rateLimit ?? true },
    advanced: { database: { generateId: "uuid" } },
    // better-auth logs errors only; it never logs request bodies, so passwords and tokens stay out.
    logger: { level: "error" },
    plugins: [organization({ allowUserToCreateOrganization: true, creatorRole: "owner" }), bearer()],
    databaseHooks: {
      user: {
        create: {
          // Every new user starts with an organization of their own, as its owner.
          after: async (user) => {
            await db.transaction(async (tx) => {
              const [org] = await tx
                .insert(schema.organizations)
                .values({ name: `${user.name}'s organization`, slug: slugify(user.name) })
                .returning({ id: schema.organizations.id });
              if (!org) throw new Error("organization insert returned nothing");
              await tx
                .insert(schema.members)
                .values({ organizationId: org.id, userId: user.id, role: "owner" });
            });
          },
        },
      },
      session: {
        create: {
          before: async (session) => {
            const active = (session as { activeOrganizationId?: string | null }).activeOrganizationId;
            if (active) return;
            const organizationId = await firstOrganizationOf(db, session.userId);
            return { data: { ...session, activeOrganizationId: organizationId } };
          },
        },
      },
    },
  });
}

export type Auth = ReturnType<typeof createAuth>;

/** The signed-in user and their active organization, if the membership still holds. */
export interface AuthenticatedSession {
  user: { id: string; name: string; email: string };
  sessionId: string;
  organizationId: string | null;
  memberRole: string | null;
}

/**
 * Resolves a request's session (cookie or `Authorization: Bearer`) and checks
 * that the user still belongs to the session's active organization.
 */
export async function getAuthenticatedSession(
  auth: Auth,
  db: Database,
  headers: Headers,
): Promise<AuthenticatedSession | null> {
  const result = await auth.api.getSession({ headers });
  if (!result) return null;
  let activeOrganizationId =
    (result.session as { activeOrganizationId?: string | null }).activeOrganizationId ?? null;
  if (!activeOrganizationId) {
    // A session created before its user's first organization existed (sign-up runs the
    // organization hook after the session is made): activate the first membership now.
    activeOrganizationId = await firstOrganizationOf(db, result.user.id);
    if (activeOrganizationId) {
      await db
        .update(schema.sessions)
        .set({ activeOrganizationId })
        .where(eq(schema.sessions.id, result.session.id));
    }
  }
  let memberRole: string | null = null;
  if (activeOrganizationId) {
    const [member] = await db
      .select({ role: schema.members.role })
      .from(schema.members)
      .where(
        and(
          eq(schema.members.organizationId, activeOrganizationId),
          eq(schema.members.userId, result.user.id),
        ),
      )
      .limit(1);
    memberRole = member?.role ?? null;
  }
  return {
    user: { id: result.user.id, name: result.user.name, email: result.user.email },
    sessionId: result.session.id,
    organizationId: memberRole ? activeOrganizationId : null,
    memberRole,
  };
}
