import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll } from "vitest";
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
  });
  config.baseUrl = `${server.url}/streams`;
});
afterAll(async () => {
  await server?.stop();
  dir.remove();
});

runConformanceTests(config);
