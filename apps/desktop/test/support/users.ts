import { randomBytes } from "node:crypto";
import { type ApiClient, createApiClient } from "@superset/trpc/client";

export interface E2eUser {
  id: string;
  name: string;
  email: string;
  bearer: string;
  organizationId: string;
  client: ApiClient;
}

const PASSWORD = "password-e2e-123";

async function authCall(apiUrl: string, path: string, body: unknown, bearer?: string) {
  const res = await fetch(`${apiUrl}/api/auth/${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      origin: apiUrl,
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path} failed: ${res.status} ${text}`);
  return { res, json: JSON.parse(text) as Record<string, unknown> };
}

/** Signs a user up and in over HTTP (better-auth); they start with an organization of their own. */
export async function signUpUser(apiUrl: string, name: string): Promise<E2eUser> {
  const email = `${name.toLowerCase()}-${randomBytes(3).toString("hex")}@example.com`;
  await authCall(apiUrl, "sign-up/email", { name, email, password: PASSWORD });
  const { res } = await authCall(apiUrl, "sign-in/email", { email, password: PASSWORD });
  const bearer = res.headers.get("set-auth-token");
  if (!bearer) throw new Error("sign-in returned no bearer token");
  const client = createApiClient({ url: apiUrl, bearer });
  const me = await client.me.get.query();
  if (!me.organizationId) throw new Error("new user has no organization");
  return { id: me.user.id, name, email, bearer, organizationId: me.organizationId, client };
}

export const passwordOf = (_user: E2eUser) => PASSWORD;

/** `owner` invites `guest` into their organization over HTTP; the guest accepts and makes it active. */
export async function joinOrganization(apiUrl: string, owner: E2eUser, guest: E2eUser): Promise<E2eUser> {
  const { json: invitation } = await authCall(
    apiUrl,
    "organization/invite-member",
    { email: guest.email, role: "member", organizationId: owner.organizationId },
    owner.bearer,
  );
  await authCall(apiUrl, "organization/accept-invitation", { invitationId: invitation.id }, guest.bearer);
  await authCall(apiUrl, "organization/set-active", { organizationId: owner.organizationId }, guest.bearer);
  const me = await guest.client.me.get.query();
  if (me.organizationId !== owner.organizationId) throw new Error("guest did not switch organization");
  return { ...guest, organizationId: owner.organizationId };
}
