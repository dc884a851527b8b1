import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import Anthropic from "@anthropic-ai/sdk";
import { afterEach, describe, expect, it } from "vitest";

const tsxCli = join(dirname(createRequire(import.meta.url).resolve("tsx/package.json")), "dist", "cli.mjs");
const cliPath = join(import.meta.dirname, "..", "src", "cli.ts");
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  child = undefined;
});

function startCli(args: string[]) {
  child = spawn(process.execPath, [tsxCli, cliPath, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  return child;
}

describe("fake-anthropic CLI (the demo model as a server)", () => {
  it("listens on the given port, answers as the demo model and stops cleanly on SIGTERM", async () => {
    const proc = startCli(["--port", "0"]);
    const [line] = (await once(createInterface({ input: proc.stdout as NodeJS.ReadableStream }), "line")) as [
      string,
    ];
    const { url } = JSON.parse(line) as { url: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const message = await new Anthropic({ baseURL: url, apiKey: "x", maxRetries: 0 }).messages.create({
      model: "any",
      max_tokens: 50,
      messages: [{ role: "user", content: "ping" }],
    });
    expect(message.content[0]?.type === "text" && message.content[0].text).toContain("demo model");
    proc.kill("SIGTERM");
    const [code] = (await once(proc, "exit")) as [number | null];
    expect(code).toBe(0);
  });

  it("refuses a bad port with a clear message", async () => {
    const proc = startCli(["--port", "http"]);
    let stderr = "";
    proc.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(proc, "exit")) as [number | null];
    expect(code).toBe(2);
    expect(stderr).toContain("--port");
  });
});
