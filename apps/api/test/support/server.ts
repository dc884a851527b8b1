import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { createAuth } from "@superset/auth";
import { createTestDatabase, type TestDatabase } from "@superset/db/testing";
import type { ApiDeps, ChatConfig } from "@superset/trpc";
import { createApiClient } from "@superset/trpc/client";
import pino from "pino";
import { createApiHandlers } from "~/lib/handlers";
import { startSweeper } from "~/lib/sweeper";

export const STREAM_SECRET = "stream-secret-for-http-tests-0123456789";
export const WEB_ORIGIN = "http://127.0.0.1:3000";

export interface TestApi {
  url: string;
  db: TestDatabase["db"];
  deps: ApiDeps;
  close(): Promise<void>;
}

/** The API's fetch handlers on a real HTTP server (127.0.0.1, free port) over a database of its own. */
export async function startTestApi(chat?: Partial<ChatConfig>): Promise<TestApi> {
  const t = await createTestDatabase();
  let route: (req: Request) => Promise<Response> = async () => new Response("starting", { status: 503 });
  const server = createAdaptorServer({ fetch: (req: Request) => route(req), hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const auth = createAuth({
      db: t.db,
      secret: "http-test-secret-".repeat(3),
      baseURL: url,
      trustedOrigins: [WEB_ORIGIN],
      rateLimit: false,
    });
    const deps: ApiDeps = {
      db: t.db,
      auth,
      streamAuthSecret: STREAM_SECRET,
      streamUrl: "http://127.0.0.1:8080",
      chat,
    };
    const handlers = createApiHandlers(deps, pino({ level: "silent" }), [WEB_ORIGIN]);
    route = async (req) => {
      const { pathname } = new URL(req.url);
      if (pathname.startsWith("/api/trpc/")) return handlers.trpc(req);
      if (pathname.startsWith("/api/auth/")) return handlers.auth(req);
      if (pathname === "/api/health") return handlers.health(req);
      return new Response("not found", { status: 404 });
    };
    return {
      url,
      db: t.db,
      deps,
      close: async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
        await t.drop();
      },
    };
  } catch (error) {
    server.close();
    await t.drop();
    throw error;
  }
}

/** Signs up over HTTP; returns the bearer token and the session cookie. */
export async function signUp(url: string, name: string, email: string) {
  const res = await fetch(`${url}/api/auth/sign-up/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: url },
    body: JSON.stringify({ name, email, password: "password-123" }),
  });
  if (res.status !== 200) throw new Error(`sign-up failed: ${res.status} ${await res.text()}`);
  return res;
}

export async function signIn(url: string, email: string) {
  const res = await fetch(`${url}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: url },
    body: JSON.stringify({ email, password: "password-123" }),
  });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  const bearer = res.headers.get("set-auth-token");
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  if (!bearer || !cookie) throw new Error("sign-in returned no token or cookie");
  return { bearer, cookie };
}

/**
 * A new user with a registered desktop (workspace "ws"), a session there and one message that the
 * desktop has claimed.
 */
export async function claimedMessage(api: TestApi, name: string, email: string) {
  await signUp(api.url, name, email);
  const { bearer } = await signIn(api.url, email);
  const user = createApiClient({ url: api.url, bearer });
  const { deviceToken } = await user.device.register.mutate({ name: "D", workspaceIds: ["ws"] });
  const desktop = createApiClient({ url: api.url, deviceToken });
  const session = await user.chat.createSession.mutate({ workspaceId: "ws" });
  const message = await user.chat.sendMessage.mutate({ sessionId: session.id, content: "x" });
  await desktop.device.claimNext.mutate({});
  return { user, desktop, session, message };
}

/**
 * The lease sweeper with an interval far longer than any test, so that only explicit `sweep()`
 * calls run; stream ends go to `streamUrl`, signed with the test secret.
 */
export function manualSweeper(api: TestApi, maxClaims: number, streamUrl: string) {
  return startSweeper({
    db: api.db,
    maxClaims,
    intervalMs: 3_600_000,
    logger: pino({ level: "silent" }),
    stream: { url: streamUrl, authSecret: STREAM_SECRET },
  });
}
