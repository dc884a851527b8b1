import net from "node:net";
import { mintStreamToken } from "@superset/stream-tokens";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server";
import { startTestServer } from "./support/server";

/**
 * Appends and SSE reads are served on node:http without Hono (src/http/fast.ts): they must keep
 * the app's headers, limits and auth, and deliver the same live events to every subscriber.
 */
const SECRET = "fast-path-secret-fast-path-secret-0123456789";
let open: RunningServer;
let secured: RunningServer;

beforeAll(async () => {
  open = await startTestServer({ STREAM_MAX_BODY_BYTES: "1024" });
  secured = await startTestServer({ STREAM_AUTH: "jwt", STREAM_AUTH_SECRET: SECRET });
});
afterAll(async () => {
  await open?.stop();
  await secured?.stop();
});

const text = { "content-type": "text/plain" };

/** Reads an SSE response until `done(text)` holds; returns the text. */
async function readSse(res: Response, done: (text: string) => boolean): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let body = "";
  while (!done(body)) {
    const { done: end, value } = await reader.read();
    if (end) break;
    body += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return body;
}

describe("fast path: appends", () => {
  it("answers with the protocol, CORS and security headers and a request id", async () => {
    await fetch(`${open.url}/streams/h`, { method: "PUT", headers: text });
    const res = await fetch(`${open.url}/streams/h`, {
      method: "POST",
      headers: { ...text, origin: "https://app.example", "x-request-id": "req-42" },
      body: "abc",
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("stream-next-offset")).toBe("0000000000000000_0000000000000003");
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(res.headers.get("access-control-expose-headers")).toContain("Stream-Next-Offset");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-request-id")).toBe("req-42");
  });

  it("leaves the CORS headers off answers to clients that send no Origin, not the security ones", async () => {
    await fetch(`${open.url}/streams/no-origin`, { method: "PUT", headers: text });
    const res = await fetch(`${open.url}/streams/no-origin`, { method: "POST", headers: text, body: "abc" });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("access-control-expose-headers")).toBeNull();
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
  });

  it("refuses a body over the limit with 413 while it streams in, and stores nothing", async () => {
    await fetch(`${open.url}/streams/big`, { method: "PUT", headers: text });
    // No Content-Length: the limit must hold on the bytes actually received.
    const status = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(open.port, "127.0.0.1", () => {
        socket.write(
          "POST /streams/big HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        socket.write(`800\r\n${"x".repeat(0x800)}\r\n0\r\n\r\n`);
      });
      let answer = "";
      socket.on("data", (chunk) => {
        answer += chunk.toString();
        if (answer.includes("\r\n")) {
          socket.destroy();
          resolve(answer.split("\r\n")[0] ?? "");
        }
      });
      socket.on("error", reject);
    });
    expect(status).toBe("HTTP/1.1 413 Payload Too Large");
    expect(await (await fetch(`${open.url}/streams/big?offset=-1`)).text()).toBe("");
  });

  it("answers 400 to an empty append and 404 to an unknown stream, never 500", async () => {
    await fetch(`${open.url}/streams/e`, { method: "PUT", headers: text });
    const empty = await fetch(`${open.url}/streams/e`, { method: "POST", headers: text, body: "" });
    expect(empty.status).toBe(400);
    expect(await empty.text()).toBe("empty append body");
    const unknown = await fetch(`${open.url}/streams/nope`, { method: "POST", headers: text, body: "x" });
    expect(unknown.status).toBe(404);
  });

  it("keeps auth: no token 401, a token of another session 403, a valid token 204", async () => {
    const url = `${secured.url}/streams/sess-1`;
    const token = async (sessionId: string) =>
      (
        await mintStreamToken(
          { userId: "u1", organizationId: "o1", sessionId, rights: ["read", "append"] },
          { secret: SECRET },
        )
      ).token;
    const create = await fetch(url, {
      method: "PUT",
      headers: { ...text, authorization: `Bearer ${await token("sess-1")}` },
    });
    expect(create.status).toBe(201);
    expect((await fetch(url, { method: "POST", headers: text, body: "x" })).status).toBe(401);
    const other = await fetch(url, {
      method: "POST",
      headers: { ...text, authorization: `Bearer ${await token("sess-2")}` },
      body: "x",
    });
    expect(other.status).toBe(403);
    const ok = await fetch(url, {
      method: "POST",
      headers: { ...text, authorization: `Bearer ${await token("sess-1")}` },
      body: "x",
    });
    expect(ok.status).toBe(204);
    const sse = await fetch(`${url}?offset=-1&live=sse`);
    expect(sse.status).toBe(401);
    await sse.body?.cancel();
  });
});

describe("fast path: SSE", () => {
  it("gives every subscriber the same live events after its catch-up, one control per data event", async () => {
    const url = `${open.url}/streams/live`;
    await fetch(url, { method: "PUT", headers: text, body: "first" });
    const readers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`${url}?offset=${i % 2 === 0 ? "-1" : "now"}&live=sse`, {
          headers: i % 4 === 0 ? { origin: "https://app.example" } : {},
        }),
      ),
    );
    for (const [i, res] of readers.entries()) {
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/event-stream");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      const expose = res.headers.get("access-control-expose-headers");
      if (i % 4 === 0) expect(expose).toContain("Stream-Next-Offset");
      else expect(expose).toBeNull();
    }
    const bodies = readers.map((res) => readSse(res, (body) => body.includes("data:third")));
    // Let every reader reach the live phase (each sent its first control event) before appending.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await fetch(url, { method: "POST", headers: text, body: "second" });
    await fetch(url, { method: "POST", headers: text, body: "third" });
    const texts = await Promise.all(bodies);
    for (const [i, body] of texts.entries()) {
      const data = [...body.matchAll(/^data:(\w+)$/gm)].map((m) => m[1]);
      expect(data).toEqual(i % 2 === 0 ? ["first", "second", "third"] : ["second", "third"]);
      const events = [...body.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
      for (const [at, event] of events.entries())
        if (event === "data") expect(events[at + 1]).toBe("control");
      expect(body).toContain('"streamNextOffset":"0000000000000000_0000000000000016"');
    }
  });

  it("answers a bad offset with 400 and an unknown stream with 404 before any event", async () => {
    expect((await fetch(`${open.url}/streams/live?offset=zzz&live=sse`)).status).toBe(400);
    expect((await fetch(`${open.url}/streams/missing?offset=-1&live=sse`)).status).toBe(404);
  });
});
