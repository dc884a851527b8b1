import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server";
import { startTestServer } from "./support/server";

let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer({ STREAM_MAX_BODY_BYTES: "1024" });
});
afterAll(async () => {
  await server?.stop();
});

const url = (path: string) => `${server.url}/streams${path}`;

describe("bad input and operations", () => {
  it("answers 413 to a body over STREAM_MAX_BODY_BYTES and stores nothing", async () => {
    await fetch(url("/big"), { method: "PUT", headers: { "content-type": "text/plain" } });
    const res = await fetch(url("/big"), {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "x".repeat(2048),
    });
    expect(res.status).toBe(413);
    expect(await (await fetch(url("/big?offset=-1"))).text()).toBe("");
  });

  it("answers 400 to malformed JSON in JSON mode and stores nothing", async () => {
    await fetch(url("/json"), { method: "PUT", headers: { "content-type": "application/json" } });
    const res = await fetch(url("/json"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{oops",
    });
    expect(res.status).toBe(400);
    expect(await (await fetch(url("/json?offset=-1"))).json()).toEqual([]);
  });

  it("answers 404 to an unknown stream and 400 to a traversal path", async () => {
    expect((await fetch(url("/nope?offset=-1"))).status).toBe(404);
    expect((await fetch(`${server.url}/streams/a//b`, { method: "PUT" })).status).toBe(400);
  });

  it("serves /health and Prometheus /metrics with append counters", async () => {
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ ok: true });
    await fetch(url("/m"), { method: "PUT", headers: { "content-type": "text/plain" } });
    await fetch(url("/m"), { method: "POST", headers: { "content-type": "text/plain" }, body: "abc" });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/ds_appends_total \d+/);
    expect(text).toMatch(/ds_append_bytes_total \d+/);
    expect(text).toContain("ds_live_connections");
  });

  it("exposes the protocol headers to browsers", async () => {
    const res = await fetch(url("/m?offset=-1"), { headers: { origin: "https://app.example" } });
    expect(res.headers.get("access-control-expose-headers")).toContain("Stream-Next-Offset");
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
  });
});

describe("graceful shutdown", () => {
  it("ends live SSE readers cleanly with their offset in the last control event", async () => {
    const own = await startTestServer({ STREAM_LONG_POLL_TIMEOUT_MS: "20000" });
    await fetch(`${own.url}/streams/live`, {
      method: "PUT",
      headers: { "content-type": "text/plain" },
      body: "a",
    });
    const res = await fetch(`${own.url}/streams/live?offset=-1&live=sse`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("control")) text += new TextDecoder().decode((await reader.read()).value);
    const stopped = own.stop();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await stopped;
    expect(text).toContain('"streamNextOffset":"0000000000000000_0000000000000001"');
  });

  it("answers a waiting long-poll at once instead of after its timeout", async () => {
    // The long-poll timeout (60 s) is far past this test's own limit: only the shutdown can answer.
    const own = await startTestServer({ STREAM_LONG_POLL_TIMEOUT_MS: "60000" });
    await fetch(`${own.url}/streams/lp`, { method: "PUT", headers: { "content-type": "text/plain" } });
    const waiting = fetch(`${own.url}/streams/lp?offset=now&live=long-poll`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await own.stop();
    const res = await waiting;
    expect(res.status).toBe(204);
    expect(res.headers.get("stream-up-to-date")).toBe("true");
  }, 10_000);
});
