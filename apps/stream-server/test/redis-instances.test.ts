import { DurableStream } from "@durable-streams/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server";
import { startRedis, type TestRedis } from "./support/redis";
import { startTestServer } from "./support/server";

let redis: TestRedis;
let a: RunningServer;
let b: RunningServer;

beforeAll(async () => {
  redis = await startRedis();
  a = await startTestServer({
    STREAM_STORAGE: "redis",
    REDIS_URL: redis.url,
    STREAM_LONG_POLL_TIMEOUT_MS: "20000",
  });
  b = await startTestServer({
    STREAM_STORAGE: "redis",
    REDIS_URL: redis.url,
    STREAM_LONG_POLL_TIMEOUT_MS: "20000",
  });
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await redis?.stop();
});

describe("two instances on one Redis", () => {
  it("wakes a live SSE reader on instance B with appends made through instance A", async () => {
    const path = `/streams/shared-${Date.now()}`;
    const writer = await DurableStream.create({ url: `${a.url}${path}`, contentType: "application/json" });
    const reader = new DurableStream({ url: `${b.url}${path}` });
    const controller = new AbortController();
    const response = await reader.stream<{ n: number }>({
      offset: "-1",
      live: "sse",
      signal: controller.signal,
    });
    const received: number[] = [];
    const done = new Promise<void>((resolve) => {
      response.subscribeJson(async (batch) => {
        for (const item of batch.items) received.push(item.n);
        if (received.length >= 3) resolve();
      });
    });
    for (let n = 1; n <= 3; n++) await writer.append(JSON.stringify({ n }));
    await done;
    controller.abort();
    expect(received).toEqual([1, 2, 3]);
  });

  it("wakes a long-poll on instance B and shares producer state across instances", async () => {
    const path = `/streams/poll-${Date.now()}`;
    await fetch(`${a.url}${path}`, { method: "PUT", headers: { "content-type": "text/plain" } });
    const head = await fetch(`${b.url}${path}`, { method: "HEAD" });
    const tail = head.headers.get("stream-next-offset") as string;
    const poll = fetch(`${b.url}${path}?offset=${tail}&live=long-poll`);
    const producer = {
      "content-type": "text/plain",
      "producer-id": "p1",
      "producer-epoch": "0",
      "producer-seq": "0",
    };
    expect(
      (await fetch(`${a.url}${path}`, { method: "POST", headers: producer, body: "hello" })).status,
    ).toBe(200);
    const res = await poll;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("hello");
    // The same producer seq retried through the other instance is a duplicate, not a second append.
    expect(
      (await fetch(`${b.url}${path}`, { method: "POST", headers: producer, body: "hello" })).status,
    ).toBe(204);
    const all = await fetch(`${b.url}${path}?offset=-1`);
    expect(await all.text()).toBe("hello");
  });
});
