import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll } from "vitest";
import type { RunningServer } from "../src/server";
import { startRedis, type TestRedis } from "./support/redis";
import { startTestServer } from "./support/server";

const config = { baseUrl: "", longPollTimeoutMs: 500, subscriptions: true };
let redis: TestRedis;
let server: RunningServer;

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestServer({
    STREAM_STORAGE: "redis",
    REDIS_URL: redis.url,
    STREAM_WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
  });
  config.baseUrl = `${server.url}/streams`;
});
afterAll(async () => {
  await server?.stop();
  await redis?.stop();
});

runConformanceTests(config);
