import { parseArgs } from "node:util";
import { startFakeAnthropic } from "./server";

// The demo model as a standalone server: `tsx packages/fake-anthropic/src/cli.ts --port 4100`.
const { values } = parseArgs({
  options: { port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port: expected an integer from 0 to 65535, got "${values.port}"`);
  process.exit(2);
}

const fake = await startFakeAnthropic({ port, host: values.host });
process.stdout.write(
  `${JSON.stringify({ msg: "fake Anthropic API (demo model) listening", url: fake.url, port: fake.port })}\n`,
);

const shutdown = () => {
  fake.stop().then(() => process.exit(0));
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
