import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mintStreamToken, type StreamRight } from "@superset/stream-tokens";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv } from "../src/env";
import type { RunningServer } from "../src/server";
import { WebhookUrlPolicy } from "../src/subscriptions/webhook-url";
import { startRedis, type TestRedis } from "./support/redis";
import { startTestServer, tempDir } from "./support/server";

const SECRET = "a-test-secret-that-is-long-enough-0123456789";
const json = { "content-type": "application/json" };

const token = async (sessionId: string, rights: StreamRight[], org = "org-a") =>
  (await mintStreamToken({ userId: "u1", organizationId: org, sessionId, rights }, { secret: SECRET })).token;

const put = (url: string, body: unknown, bearer?: string) =>
  fetch(url, {
    method: "PUT",
    headers: { ...json, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify(body),
  });

describe("webhook URL policy", () => {
  it("allows no webhook host at all by default", () => {
    expect(() => new WebhookUrlPolicy([]).check("https://example.com/hook")).toThrow(/not allowed/);
  });
  it("lets a named host use http and private addresses", () => {
    const policy = new WebhookUrlPolicy(["127.0.0.1", "hooks.internal:8443"]);
    expect(policy.check("http://127.0.0.1:9000/x").explicit).toBe(true);
    expect(policy.check("https://hooks.internal:8443/x").explicit).toBe(true);
    expect(() => policy.check("https://hooks.internal:9999/x")).toThrow(/not allowed/);
  });
  it("keeps wildcards to https and public addresses", () => {
    const policy = new WebhookUrlPolicy(["*"]);
    expect(policy.check("https://example.com/x").explicit).toBe(false);
    expect(() => policy.check("http://example.com/x")).toThrow(/https/);
    for (const url of [
      "https://10.0.0.1/",
      "https://169.254.169.254/",
      "https://[::1]/",
      "https://localhost/",
    ]) {
      expect(() => policy.check(url), url).toThrow();
    }
    expect(() => policy.check("https://user:pw@example.com/")).toThrow(/credentials/);
  });
});

describe("subscriptions with the default configuration", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ STREAM_STORAGE: "memory" });
  });
  afterAll(async () => server?.stop());

  it("refuses a loopback webhook unless STREAM_WEBHOOK_ALLOWED_HOSTS names it", async () => {
    const res = await put(`${server.url}/streams/__ds/subscriptions/s1`, {
      type: "webhook",
      pattern: "events/*",
      webhook: { url: "http://127.0.0.1:9/hook" },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("WEBHOOK_URL_REJECTED");
  });

  it("answers bad bodies with 400 and writes nothing", async () => {
    const url = `${server.url}/streams/__ds/subscriptions/bad`;
    for (const body of [{ type: "pull-wake", pattern: "a/*" }, { type: "nope" }, { type: "pull-wake" }]) {
      expect((await put(url, body)).status).toBe(400);
    }
    const raw = await fetch(url, { method: "PUT", headers: json, body: "{not json" });
    expect(raw.status).toBe(400);
    expect((await fetch(url)).status).toBe(404);
  });

  it("keeps ordinary streams out of the reserved __ds segment", async () => {
    const res = await fetch(`${server.url}/streams/a/__ds/thing`, { method: "PUT" });
    expect(res.status).toBe(404);
  });

  it("refuses a forged callback token with 401", async () => {
    await fetch(`${server.url}/streams/w`, { method: "PUT", headers: json, body: "[]" });
    expect(
      (
        await put(`${server.url}/streams/__ds/subscriptions/p1`, {
          type: "pull-wake",
          streams: ["x"],
          wake_stream: "w",
        })
      ).status,
    ).toBe(201);
    const res = await fetch(`${server.url}/streams/__ds/subscriptions/p1/ack`, {
      method: "POST",
      headers: { ...json, authorization: "Bearer abc.def" },
      body: JSON.stringify({ wake_id: "w", generation: 1 }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("TOKEN_INVALID");
  });
});

describe("subscriptions with auth on", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ STREAM_AUTH: "jwt", STREAM_AUTH_SECRET: SECRET });
  });
  afterAll(async () => server?.stop());
  const sub = (root: string, id: string) => `${server.url}/streams${root}/__ds/subscriptions/${id}`;
  const pull = { type: "pull-wake", streams: ["s1"], wake_stream: "s1" };

  it("refuses a request without a token", async () => {
    expect((await put(sub("", "a"), pull)).status).toBe(401);
  });

  it("lets a token with read and append subscribe to its own session", async () => {
    const res = await put(sub("", "own"), pull, await token("s1", ["read", "append"]));
    expect(res.status).toBe(201);
  });

  it("refuses streams of another session", async () => {
    const res = await put(
      sub("", "other"),
      { ...pull, streams: ["s2"] },
      await token("s1", ["read", "append"]),
    );
    expect(res.status).toBe(403);
  });

  it("refuses a token without the read right on the covered streams", async () => {
    const res = await put(sub("", "noread"), pull, await token("s1", ["append"]));
    expect(res.status).toBe(403);
  });

  it("refuses a pattern that does not pin the token's session", async () => {
    const body = { type: "pull-wake", pattern: "*", wake_stream: "s1" };
    expect((await put(sub("", "wild"), body, await token("s1", ["read", "append"]))).status).toBe(403);
    const pinned = { type: "pull-wake", pattern: "s1/*", wake_stream: "s1" };
    expect((await put(sub("", "pinned"), pinned, await token("s1", ["read", "append"]))).status).toBe(201);
  });

  it("keeps organizations apart: another organization's token finds nothing", async () => {
    const res = await fetch(sub("", "own"), {
      headers: { authorization: `Bearer ${await token("s1", ["read", "append"], "org-b")}` },
    });
    expect(res.status).toBe(404);
  });
});

describe("subscription metrics", () => {
  it("counts subscriptions and the wake events written to pull-wake streams", async () => {
    const server = await startTestServer({ STREAM_STORAGE: "memory" });
    const metric = async (name: string) => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
    };
    try {
      expect(await metric("ds_subscriptions")).toBe(0);
      await fetch(`${server.url}/streams/wake`, { method: "PUT", headers: json, body: "[]" });
      const body = { type: "pull-wake", pattern: "jobs/*", wake_stream: "wake" };
      expect((await put(`${server.url}/streams/__ds/subscriptions/m1`, body)).status).toBe(201);
      expect(await metric("ds_subscriptions")).toBe(1);
      await fetch(`${server.url}/streams/jobs/1`, { method: "PUT", headers: json, body: '{"n":1}' });
      await expect.poll(() => metric("ds_wake_events_total")).toBeGreaterThanOrEqual(1);
      const wake = (await (await fetch(`${server.url}/streams/wake?offset=-1`)).json()) as Array<{
        type: string;
      }>;
      expect(wake.map((event) => event.type)).toContain("wake");
    } finally {
      await server.stop();
    }
  });
});

describe("webhook delivery metrics", () => {
  it("counts deliveries a receiver took and ones it refused", async () => {
    let answer = 500;
    const receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(answer, { "content-type": "application/json" });
        res.end(JSON.stringify({ done: true }));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const port = (receiver.address() as AddressInfo).port;
    const server = await startTestServer({
      STREAM_STORAGE: "memory",
      STREAM_WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${port}`,
    });
    const metric = async (outcome: string) => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const line = new RegExp(`^ds_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\S+)$`, "m");
      return Number(line.exec(text)?.[1] ?? 0);
    };
    try {
      const body = { type: "webhook", pattern: "hooks/*", webhook: { url: `http://127.0.0.1:${port}/hook` } };
      expect((await put(`${server.url}/streams/__ds/subscriptions/h1`, body)).status).toBe(201);
      await fetch(`${server.url}/streams/hooks/1`, { method: "PUT", headers: json, body: '{"n":1}' });
      await expect.poll(() => metric("failed")).toBeGreaterThanOrEqual(1);
      answer = 200;
      await expect.poll(() => metric("ok"), { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
    } finally {
      await server.stop();
      receiver.close();
    }
  });
});

describe("subscription keys from configuration", () => {
  const pem = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const x = createPublicKey(pem).export({ format: "jwk" }).x;

  it("publishes the given Ed25519 key on every instance, whatever each one's store holds", async () => {
    const servers: RunningServer[] = [];
    try {
      // Two memory servers share nothing but the configuration; the second gets the PEM on one line.
      servers.push(await startTestServer({ STREAM_WEBHOOK_SIGNING_KEY: pem }));
      servers.push(await startTestServer({ STREAM_WEBHOOK_SIGNING_KEY: pem.replaceAll("\n", "\\n") }));
      const sets = await Promise.all(
        servers.map(async (server) => {
          const res = await fetch(`${server.url}/streams/__ds/jwks.json`);
          return (await res.json()) as { keys: Array<{ x: string; kid: string }> };
        }),
      );
      expect(sets[0]?.keys.map((key) => key.x)).toEqual([x]);
      expect(sets[1]).toEqual(sets[0]);
      const own = await startTestServer();
      servers.push(own);
      const generated = (await (await fetch(`${own.url}/streams/__ds/jwks.json`)).json()) as {
        keys: Array<{ x: string }>;
      };
      expect(generated.keys[0]?.x).not.toBe(x);
    } finally {
      for (const server of servers) await server.stop();
    }
  });

  it("refuses to start with a key that is not an Ed25519 PEM, or a short token secret, naming the variable", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 })
      .privateKey.export({ format: "pem", type: "pkcs8" })
      .toString();
    const base = { STREAM_AUTH: "none" };
    expect(() => parseEnv({ ...base, STREAM_WEBHOOK_SIGNING_KEY: rsa })).toThrow(
      /STREAM_WEBHOOK_SIGNING_KEY: an Ed25519 key is required, got rsa/,
    );
    expect(() => parseEnv({ ...base, STREAM_WEBHOOK_SIGNING_KEY: "not a key" })).toThrow(
      /STREAM_WEBHOOK_SIGNING_KEY: not a PEM private key/,
    );
    expect(() => parseEnv({ ...base, STREAM_CALLBACK_TOKEN_SECRET: "short" })).toThrow(
      /STREAM_CALLBACK_TOKEN_SECRET must be at least 32 characters/,
    );
    expect(
      parseEnv({ ...base, STREAM_WEBHOOK_SIGNING_KEY: pem }).STREAM_WEBHOOK_SIGNING_KEY?.asymmetricKeyType,
    ).toBe("ed25519");
  });
});

describe("subscription state lives in the store", () => {
  it("survives a restart of the file backend", async () => {
    const dir = tempDir("ds-subs-file-");
    let server = await startTestServer({ STREAM_STORAGE: "file", STREAM_DATA_DIR: dir.path });
    try {
      await fetch(`${server.url}/streams/wake`, { method: "PUT", headers: json, body: "[]" });
      const body = { type: "pull-wake", pattern: "jobs/*", wake_stream: "wake" };
      expect((await put(`${server.url}/streams/__ds/subscriptions/keep`, body)).status).toBe(201);
      await fetch(`${server.url}/streams/jobs/1`, { method: "PUT", headers: json, body: '{"n":1}' });
      const jwks = await (await fetch(`${server.url}/streams/__ds/jwks.json`)).json();
      await server.stop();
      server = await startTestServer({ STREAM_STORAGE: "file", STREAM_DATA_DIR: dir.path });
      const res = await fetch(`${server.url}/streams/__ds/subscriptions/keep`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { streams: unknown[] }).streams).toContainEqual(
        expect.objectContaining({ path: "jobs/1" }),
      );
      expect(await (await fetch(`${server.url}/streams/__ds/jwks.json`)).json()).toEqual(jwks);
      const claim = await fetch(`${server.url}/streams/__ds/subscriptions/keep/claim`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ worker: "w1" }),
      });
      expect(claim.status).toBe(200);
    } finally {
      await server.stop();
      dir.remove();
    }
  });

  it("is shared by two Redis instances: created on one, claimed on the other", async () => {
    let redis: TestRedis | undefined;
    const servers: RunningServer[] = [];
    try {
      redis = await startRedis();
      for (let i = 0; i < 2; i++) {
        servers.push(await startTestServer({ STREAM_STORAGE: "redis", REDIS_URL: redis.url }));
      }
      const [a, b] = servers as [RunningServer, RunningServer];
      const id = `shared-${Date.now()}`;
      const wake = `wake-${id}`;
      await fetch(`${a.url}/streams/${wake}`, { method: "PUT", headers: json, body: "[]" });
      const body = { type: "pull-wake", pattern: `${id}/*`, wake_stream: wake };
      expect((await put(`${a.url}/streams/__ds/subscriptions/${id}`, body)).status).toBe(201);
      await fetch(`${b.url}/streams/${id}/one`, { method: "PUT", headers: json, body: '{"n":1}' });
      const claim = await fetch(`${b.url}/streams/__ds/subscriptions/${id}/claim`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ worker: "w1" }),
      });
      expect(claim.status).toBe(200);
      const again = await fetch(`${a.url}/streams/__ds/subscriptions/${id}/claim`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ worker: "w2" }),
      });
      expect(again.status).toBe(409);
      expect(((await again.json()) as { error: { current_holder: string } }).error.current_holder).toBe("w1");
      expect(await (await fetch(`${a.url}/streams/__ds/jwks.json`)).json()).toEqual(
        await (await fetch(`${b.url}/streams/__ds/jwks.json`)).json(),
      );
    } finally {
      for (const server of servers) await server.stop();
      await redis?.stop();
    }
  });
});
