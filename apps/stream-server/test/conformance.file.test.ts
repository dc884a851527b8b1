import { readdirSync } from "node:fs";
import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll, expect } from "vitest";
import type { RunningServer } from "../src/server";
import { startTestServer, tempDir } from "./support/server";

const config = { baseUrl: "", longPollTimeoutMs: 500, subscriptions: true };
const dir = tempDir("ds-conf-file-");
let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer({
    STREAM_STORAGE: "file",
    STREAM_DATA_DIR: dir.path,
    STREAM_WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
    // Small segments, so that the suite runs with segments filling and compactions under way.
    STREAM_SEGMENT_BYTES: "65536",
    STREAM_COMPACT_AFTER_SEGMENTS: "2",
  });
  config.baseUrl = `${server.url}/streams`;
});
afterAll(async () => {
  await server?.stop();
  // The suite wrote enough to compact more than once.
  const names = readdirSync(dir.path);
  dir.remove();
  expect(names.some((name) => name.startsWith("snapshot-"))).toBe(true);
});

runConformanceTests(config);
