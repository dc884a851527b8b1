import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { prepareTestPostgres } from "@superset/db/test-setup";
import { createTestDatabase, TEST_PG_URL_ENV, type TestDatabase } from "@superset/db/testing";

/**
 * The whole system on loopback for end-to-end tests: Postgres (embedded unless
 * SUPERSET_TEST_PG_URL is set), the API's standalone server, the stream server
 * and the sync service as child processes (`node --import tsx`, so the pid is
 * the server's own), each on a free port, sharing their secrets.
 */

const root = fileURLToPath(new URL("../../../../", import.meta.url));
export const STREAM_SECRET = `stream-e2e-${randomBytes(16).toString("hex")}`;
const ELECTRIC_SECRET = `electric-e2e-${randomBytes(8).toString("hex")}`;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Child {
  name: string;
  url: string;
  process: ChildProcess;
  output: () => string;
}

/** Spawns `node --import tsx <entry>` and waits until `ready(url)` answers. */
export async function spawnChild(
  name: string,
  entry: string,
  env: Record<string, string>,
  port: number,
  ready: (url: string) => Promise<boolean>,
): Promise<Child> {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, entry)], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-20_000);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-20_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (true) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${out}`);
    if (await ready(url).catch(() => false)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${name} did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, url, process: child, output: () => out };
}

export function stopChild(child: Child | undefined, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  return new Promise((resolve) => {
    const p = child?.process;
    if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
    const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
    p.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    p.kill(signal);
  });
}

export interface Stack {
  db: TestDatabase;
  api: Child;
  stream: Child;
  sync: Child;
  /** The API's Electric proxy: where hosts and tests read shapes, with a bearer. */
  shapeUrl: string;
  leaseMs: number;
  restartStreamServer(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(options: { leaseMs?: number; maxClaims?: number } = {}): Promise<Stack> {
  const cleanup: (() => Promise<void>)[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), "superset-e2e-"));
  cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  try {
    if (!process.env[TEST_PG_URL_ENV]) {
      const pg = await prepareTestPostgres();
      process.env[TEST_PG_URL_ENV] = pg.url;
      cleanup.push(async () => {
        await pg.stop();
        delete process.env[TEST_PG_URL_ENV];
      });
    }
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const leaseMs = options.leaseMs ?? 30_000;
    const [apiPort, streamPort, syncPort] = [await freePort(), await freePort(), await freePort()];
    const streamEnv = {
      HOST: "127.0.0.1",
      PORT: String(streamPort),
      STREAM_STORAGE: "file",
      STREAM_DATA_DIR: join(dataDir, "streams"),
      STREAM_AUTH_SECRET: STREAM_SECRET,
      STREAM_FSYNC: "off",
      STREAM_RATE_LIMIT_PER_SEC: "10000",
      STREAM_RATE_LIMIT_BURST: "20000",
      LOG_LEVEL: "warn",
    };
    const streamReady = async (url: string) => (await fetch(`${url}/health`)).status < 500;
    let stream = await spawnChild(
      "stream-server",
      "apps/stream-server/src/index.ts",
      streamEnv,
      streamPort,
      streamReady,
    );
    const sync = await spawnChild(
      "sync-service",
      "apps/sync-service/src/index.ts",
      {
        DATABASE_URL: db.url,
        PORT: String(syncPort),
        ELECTRIC_SECRET,
        SYNC_DATA_DIR: join(dataDir, "sync"),
        ELECTRIC_REPLICATION_STREAM_ID: `e2e_${randomBytes(4).toString("hex")}`,
        // A live request on a shape whose scope changed (the user joined a session) only ends at this timeout.
        ELECTRIC_LONG_POLL_TIMEOUT: "1500",
        LOG_LEVEL: "warn",
      },
      syncPort,
      async (url) => (await fetch(`${url}/health`)).status < 500,
    );
    cleanup.push(() => stopChild(sync));
    const api = await spawnChild(
      "api",
      "apps/api/src/server.ts",
      {
        NODE_ENV: "test",
        PORT: String(apiPort),
        DATABASE_URL: db.url,
        BETTER_AUTH_URL: `http://127.0.0.1:${apiPort}`,
        TRUSTED_ORIGINS: `http://127.0.0.1:${apiPort}`,
        STREAM_AUTH_SECRET: STREAM_SECRET,
        DURABLE_STREAM_URL: stream.url,
        ELECTRIC_URL: sync.url,
        ELECTRIC_SECRET,
        CLAIM_LEASE_MS: String(leaseMs),
        MAX_CLAIMS: String(options.maxClaims ?? 3),
        LEASE_SWEEP_INTERVAL_MS: "250",
        LOG_LEVEL: "warn",
      },
      apiPort,
      async (url) => (await fetch(`${url}/api/health`)).status === 200,
    );
    cleanup.push(() => stopChild(api));
    const stack: Stack = {
      db,
      api,
      get stream() {
        return stream;
      },
      sync,
      shapeUrl: `${api.url}/api/electric/v1/shape`,
      leaseMs,
      async restartStreamServer() {
        await stopChild(stream, "SIGKILL");
        stream = await spawnChild(
          "stream-server",
          "apps/stream-server/src/index.ts",
          streamEnv,
          streamPort,
          streamReady,
        );
      },
      async stop() {
        await stopChild(stream);
        for (const step of cleanup.reverse()) await step().catch(() => {});
      },
    };
    return stack;
  } catch (error) {
    for (const step of cleanup.reverse()) await step().catch(() => {});
    throw error;
  }
}
