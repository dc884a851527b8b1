/**
 * Smoke test of the real Next.js server: starts an embedded Postgres, runs
 * `next start` on a free port (build first: `npm run build -w @superset/api`),
 * signs up over HTTP, drives a chat call through tRPC, then sends SIGTERM and
 * checks the server shuts down cleanly. Usage: `npm run smoke -w @superset/api`.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { startEmbeddedPostgres } from "@superset/db/embedded";
import { ensureDatabase, migrateDatabase } from "@superset/db/migrate";
import { createApiClient } from "@superset/trpc/client";

const appDir = path.resolve(import.meta.dirname, "..");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`API did not become healthy at ${url}`);
}

async function main() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "superset-api-smoke-"));
  const pg = await startEmbeddedPostgres({ dataDir: path.join(tmp, "data") });
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const databaseUrl = await ensureDatabase(pg.url, "superset");
    await migrateDatabase(databaseUrl);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const output: string[] = [];
    child = spawn(
      path.resolve(appDir, "../../node_modules/.bin/next"),
      ["start", "-p", String(port), "-H", "127.0.0.1"],
      {
        cwd: appDir,
        env: {
          ...process.env,
          NODE_ENV: "production",
          NEXT_TELEMETRY_DISABLED: "1",
          DATABASE_URL: databaseUrl,
          BETTER_AUTH_URL: url,
          BETTER_AUTH_SECRET: "smoke-test-secret-0123456789abcdefghij",
          STREAM_AUTH_SECRET: "smoke-stream-secret-0123456789abcdefghij",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child.stdout?.on("data", (d) => output.push(String(d)));
    child.stderr?.on("data", (d) => output.push(String(d)));
    const exited = new Promise<number | null>((resolve) => child?.once("exit", (code) => resolve(code)));
    await waitForHealth(url, 60_000);

    const signUp = await fetch(`${url}/api/auth/sign-up/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: url },
      body: JSON.stringify({ name: "Smoke", email: "smoke@example.com", password: "password-123" }),
    });
    const bearer = signUp.headers.get("set-auth-token");
    if (!bearer) throw new Error(`sign-up failed: ${signUp.status}`);
    const client = createApiClient({ url, bearer });
    const session = await client.chat.createSession.mutate({ title: "Smoke", workspaceId: "ws" });
    const message = await client.chat.sendMessage.mutate({ sessionId: session.id, content: "hello" });
    console.warn(`createSession ${session.id} (txid ${session.txid}), sendMessage ${message.status}`);

    child.kill("SIGTERM");
    const code = await exited;
    const logs = output.join("");
    if (!logs.includes('"msg":"shutting down"')) throw new Error(`no shutdown log line:\n${logs}`);
    if (!logs.includes('"msg":"api started"')) throw new Error(`no start log line:\n${logs}`);
    console.warn(`next start served the API and exited with ${code} on SIGTERM`);
    if (code !== 0) process.exitCode = 1;
  } finally {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await pg.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
