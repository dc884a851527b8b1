import { DurableStreamTestServer } from "@durable-streams/server";

/** The reference Node server, started alone in this process for the benchmark. */
const dataDir = process.env.BENCH_REFERENCE_DIR;
const server = new DurableStreamTestServer({
  port: 0,
  host: "127.0.0.1",
  longPollTimeout: 30_000,
  ...(dataDir ? { dataDir } : {}),
});
const url = await server.start();
process.stdout.write(`READY ${url}\n`);
process.on("SIGTERM", () => {
  server.stop().finally(() => process.exit(0));
});
