import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";

export const SYNC_SECRET = "sync-secret-for-proxy-tests-7f3a9c";

/** The sync service's entry point, run as a child process (apps never import each other). */
const ENTRY = path.resolve(import.meta.dirname, "../../../sync-service/src/index.ts");

/** A port nothing listens on now (loopback). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface SyncServiceProcess {
  url: string;
  stop(): Promise<void>;
}

/** Starts apps/sync-service on a free loopback port against `databaseUrl`; `stop` also drops its slot. */
export async function startSyncServiceProcess(databaseUrl: string): Promise<SyncServiceProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "electric-proxy-test-"));
  const streamId = `p${randomBytes(5).toString("hex")}`;
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", ENTRY], {
    env: {
      NODE_ENV: "test",
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      ELECTRIC_SECRET: SYNC_SECRET,
      SYNC_DATA_DIR: dataDir,
      ELECTRIC_REPLICATION_STREAM_ID: streamId,
      ELECTRIC_LONG_POLL_TIMEOUT: "2000",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query(
        "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active",
        [`superset_sync_slot_${streamId}`],
      );
    } finally {
      await client.end();
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sync service exited: ${stderr}`);
    try {
      const res = await fetch(`${url}/v1/health`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`sync service did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop };
}
