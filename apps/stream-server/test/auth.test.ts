import { mintStreamToken, type StreamRight } from "@superset/stream-tokens";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server";
import { startTestServer } from "./support/server";

const SECRET = "a-test-secret-that-is-long-enough-0123456789";
let server: RunningServer;

const token = async (sessionId: string, rights: StreamRight[], extra: { org?: string; ttl?: number } = {}) =>
  (
    await mintStreamToken(
      { userId: "u1", organizationId: extra.org ?? "org-a", sessionId, rights, name: "Ada" },
      { secret: SECRET, ttlSeconds: extra.ttl },
    )
  ).token;

const call = (path: string, init: RequestInit & { token?: string } = {}) =>
  fetch(`${server.url}/streams${path}`, {
    ...init,
    headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.headers ?? {}) },
  });

beforeAll(async () => {
  server = await startTestServer({
    STREAM_AUTH: "jwt",
    STREAM_AUTH_SECRET: SECRET,
    STREAM_RATE_LIMIT_PER_SEC: "5",
    STREAM_RATE_LIMIT_BURST: "10",
  });
});
afterAll(async () => {
  await server?.stop();
});

describe("auth", () => {
  it("refuses a request without a token with 401", async () => {
    const res = await call("/s1", { method: "PUT" });
    expect(res.status).toBe(401);
  });

  it("refuses a token signed with another secret with 401", async () => {
    const { token: foreign } = await mintStreamToken(
      { userId: "u1", organizationId: "org-a", sessionId: "s1", rights: ["append"] },
      { secret: "another-secret-that-is-long-enough-987654321" },
    );
    expect((await call("/s1", { method: "PUT", token: foreign })).status).toBe(401);
  });

  it("refuses an expired token with 401", async () => {
    const expired = await token("s1", ["append", "read"], { ttl: -5 });
    const res = await call("/s1", { method: "PUT", token: expired });
    expect(res.status).toBe(401);
    expect(await res.text()).toMatch(/expired/);
  });

  it("lets an append token create and append, and a read token read", async () => {
    const writer = await token("s-rw", ["append"]);
    const reader = await token("s-rw", ["read"]);
    expect(
      (await call("/s-rw", { method: "PUT", token: writer, headers: { "content-type": "text/plain" } }))
        .status,
    ).toBe(201);
    expect(
      (
        await call("/s-rw", {
          method: "POST",
          token: writer,
          headers: { "content-type": "text/plain" },
          body: "hi",
        })
      ).status,
    ).toBe(204);
    const read = await call("/s-rw?offset=-1", { token: reader });
    expect(read.status).toBe(200);
    expect(await read.text()).toBe("hi");
  });

  it("refuses an append with a read token with 403", async () => {
    const reader = await token("s-rw", ["read"]);
    const res = await call("/s-rw", {
      method: "POST",
      token: reader,
      headers: { "content-type": "text/plain" },
      body: "x",
    });
    expect(res.status).toBe(403);
  });

  it("refuses a read with an append-only token with 403", async () => {
    const writer = await token("s-rw", ["append"]);
    expect((await call("/s-rw?offset=-1", { token: writer })).status).toBe(403);
  });

  it("refuses a token for session X on session Y with 403", async () => {
    const other = await token("s-other", ["read", "append", "presence"]);
    expect((await call("/s-rw?offset=-1", { token: other })).status).toBe(403);
    expect((await call("/s-rw", { method: "DELETE", token: other })).status).toBe(403);
  });

  it("refuses paths deeper than the session and forks", async () => {
    const writer = await token("s-rw", ["append", "read"]);
    expect((await call("/s-rw/deeper", { method: "PUT", token: writer })).status).toBe(403);
    const fork = await call("/s-rw", {
      method: "PUT",
      token: writer,
      headers: { "content-type": "text/plain", "stream-forked-from": "/s-rw" },
    });
    expect(fork.status).toBe(403);
  });

  it("keeps organizations apart: the same session id in another organization is another stream", async () => {
    const otherOrg = await token("s-rw", ["read"], { org: "org-b" });
    expect((await call("/s-rw?offset=-1", { token: otherOrg })).status).toBe(404);
  });

  it("refuses presence writes without the presence right and allows presence reads with read", async () => {
    const reader = await token("s-pres", ["read"]);
    const post = await call("/s-pres/presence", {
      method: "POST",
      token: reader,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ status: "viewing" }),
    });
    expect(post.status).toBe(403);
    expect((await call("/s-pres/presence?offset=-1", { token: reader })).status).toBe(200);
  });

  it("limits one token's request rate with 429 and Retry-After", async () => {
    const reader = await token("s-rate", ["read"]);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await call("/s-rate?offset=-1", { token: reader })).status);
    expect(statuses).toContain(429);
    const limited = await call("/s-rate?offset=-1", { token: reader });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });
});
