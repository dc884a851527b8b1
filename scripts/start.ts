/**
 * `npm start`: the whole stack on embedded defaults. Postgres (embedded unless
 * DATABASE_URL is set), migrations, the demo seed, then every service; prints
 * the URLs and demo logins, and stops everything on Ctrl-C.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createDb } from "@superset/db/client";
import { startEmbeddedPostgres } from "@superset/db/embedded";
import { migrateDatabase } from "@superset/db/migrate";
import { DEMO_PASSWORD, DEMO_USERS, DEMO_WORKSPACE_ID, seedDemo } from "./lib/seed";
import {
  type RunningService,
  type ServiceSpec,
  startService,
  stopServices,
  waitHealthy,
} from "./lib/services";
import { ROOT } from "./lib/workspaces";

const DATA_DIR = path.join(ROOT, ".data");
const LOG_DIR = path.join(DATA_DIR, "logs");

const ports = {
  postgres: Number(process.env.POSTGRES_PORT ?? 54329),
  api: Number(process.env.API_PORT ?? 3001),
  stream: Number(process.env.STREAM_PORT ?? 8080),
  sync: Number(process.env.SYNC_PORT ?? 3002),
  fakeModel: Number(process.env.FAKE_MODEL_PORT ?? 4010),
};

/** Development secrets, made once per checkout and kept in .data (git-ignored). */
function devSecrets(): Record<"BETTER_AUTH_SECRET" | "STREAM_AUTH_SECRET" | "ELECTRIC_SECRET", string> {
  const file = path.join(DATA_DIR, "secrets.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8"));
  const secrets = {
    BETTER_AUTH_SECRET: randomBytes(32).toString("base64url"),
    STREAM_AUTH_SECRET: randomBytes(32).toString("base64url"),
    ELECTRIC_SECRET: randomBytes(24).toString("base64url"),
  };
  mkdirSync(DATA_DIR, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

const has = (relative: string) => existsSync(path.join(ROOT, relative));
const tsx = (entry: string) => ({ command: process.execPath, args: ["--import", "tsx", entry] });

async function main() {
  const started: RunningService[] = [];
  let stopPostgres: (() => Promise<void>) | undefined;
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nStopping…\n");
    await stopServices(started);
    await stopPostgres?.();
    process.stdout.write("Stopped.\n");
    process.exit(code);
  };
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));

  try {
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      process.stdout.write(`Starting embedded Postgres on port ${ports.postgres}…\n`);
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(DATA_DIR, "postgres"),
        port: ports.postgres,
      });
      stopPostgres = pg.stop;
      databaseUrl = pg.url;
    }
    process.stdout.write("Applying migrations…\n");
    await migrateDatabase(databaseUrl);
    const secrets = devSecrets();
    const apiUrl = `http://localhost:${ports.api}`;
    const db = createDb(databaseUrl, { max: 2 });
    const demo = await seedDemo(db, {
      authSecret: secrets.BETTER_AUTH_SECRET,
      baseURL: apiUrl,
      dataDir: DATA_DIR,
    });
    await db.$client.end();

    const baseEnv = { ...process.env, ...secrets, DATABASE_URL: databaseUrl, NEXT_TELEMETRY_DISABLED: "1" };
    const specs: ServiceSpec[] = [];
    if (has("apps/stream-server/src/index.ts")) {
      specs.push({
        name: "stream-server",
        ...tsx("apps/stream-server/src/index.ts"),
        env: { ...baseEnv, PORT: String(ports.stream), STREAM_DATA_DIR: path.join(DATA_DIR, "streams") },
        healthUrl: `http://127.0.0.1:${ports.stream}/health`,
      });
    }
    if (has("apps/sync-service/src/index.ts")) {
      specs.push({
        name: "sync-service",
        ...tsx("apps/sync-service/src/index.ts"),
        env: { ...baseEnv, PORT: String(ports.sync), SYNC_DATA_DIR: path.join(DATA_DIR, "sync") },
        healthUrl: `http://127.0.0.1:${ports.sync}/v1/health`,
      });
    }
    specs.push({
      name: "api",
      command: "npm",
      args: ["run", "dev", "-w", "@superset/api", "--", "-p", String(ports.api)],
      env: {
        ...baseEnv,
        BETTER_AUTH_URL: apiUrl,
        DURABLE_STREAM_URL: `http://localhost:${ports.stream}`,
        ELECTRIC_URL: `http://127.0.0.1:${ports.sync}`,
      },
      healthUrl: `http://127.0.0.1:${ports.api}/api/health`,
    });

    const launch = (spec: ServiceSpec) => {
      process.stdout.write(`Starting ${spec.name}…\n`);
      const service = startService(spec, LOG_DIR, ROOT);
      started.push(service);
      void service.exited.then((code) => {
        if (!stopping) {
          process.stderr.write(`${spec.name} exited (code ${code}); see ${service.logFile}\n`);
          void shutdown(1);
        }
      });
      return service;
    };
    for (const spec of specs) launch(spec);
    await Promise.all(started.map((s) => waitHealthy(s)));

    // The headless desktop host runs the demo workspace's messages as Alice's desktop.
    const [alice] = DEMO_USERS;
    const host = launch({
      name: "host",
      ...tsx("apps/desktop/src/host/cli.ts"),
      args: [
        ...tsx("apps/desktop/src/host/cli.ts").args,
        "--api",
        apiUrl,
        "--email",
        alice.email,
        "--password",
        DEMO_PASSWORD,
        "--workspace",
        `${DEMO_WORKSPACE_ID}=${demo.workspaceDir}`,
        "--device-token-file",
        path.join(DATA_DIR, "demo-device-token"),
      ],
      env: { ...process.env, SUPERSET_DEVICE_NAME: "Demo desktop (headless host)" },
      foreground: true,
    });

    const lines = [
      "",
      "Superset is running.",
      `  API (tRPC, auth):   ${apiUrl}/api/trpc  ${apiUrl}/api/auth`,
      `  API health:         ${apiUrl}/api/health`,
      ...(has("apps/stream-server/src/index.ts")
        ? [`  Durable streams:    http://localhost:${ports.stream}/streams/<sessionId>`]
        : []),
      ...(has("apps/sync-service/src/index.ts")
        ? [
            `  Shape sync:         http://localhost:${ports.sync}/v1/shape (via ${apiUrl}/api/electric/v1/shape)`,
          ]
        : []),
      `  Postgres:           ${databaseUrl.replace(/:[^:@/]+@/, ":***@")}`,
      `  Logs:               ${LOG_DIR}`,
      "",
      'Demo logins (organization "Demo"):',
      ...DEMO_USERS.map((u) => `  ${u.email} / ${DEMO_PASSWORD}`),
      `Demo session: ${demo.sessionId} (workspace ${demo.workspaceDir}, run by the headless host: see its [host] lines; log ${host.logFile})`,
      "",
      "Press Ctrl-C to stop.",
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await shutdown(1);
  }
}

void main();
