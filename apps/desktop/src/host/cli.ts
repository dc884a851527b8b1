import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type FakeAnthropic, startFakeAnthropic } from "@superset/fake-anthropic";
import pino from "pino";
import { buildClaudeEnv, describeCredentials, getExistingClaudeCredentials } from "../main/lib/claude/auth";
import { REDACT_PATHS } from "../main/lib/claude/logger";
import { signInWithPassword } from "../main/lib/host/api-client";
import { type RunningHost, startHost } from "../main/lib/host/host";
import type { TurnProgress } from "../main/lib/host/runner";
import { parseHostEnv, parseWorkspaces } from "./env";

/**
 * The headless desktop host: `npm run host -w @superset/desktop -- --api http://127.0.0.1:3001
 *   --email a@example.com --password ... --workspace demo=/path/to/folder`.
 * Progress goes to stdout as plain lines; logs (pino JSON) go to stderr.
 */
const USAGE = `usage: host [--api URL] (--bearer TOKEN | --email E --password P) --workspace id=/path [...]
  [--device-token T | --device-token-file F] [--device-name N] [--shape-url URL] [--stream-url URL]
  [--model-base-url URL] [--demo]`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      api: { type: "string" },
      bearer: { type: "string" },
      email: { type: "string" },
      password: { type: "string" },
      workspace: { type: "string", multiple: true },
      "device-token": { type: "string" },
      "device-token-file": { type: "string" },
      "device-name": { type: "string" },
      "shape-url": { type: "string" },
      "stream-url": { type: "string" },
      "model-base-url": { type: "string" },
      demo: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const env = parseHostEnv(process.env);
  const apiUrl = values.api ?? env.SUPERSET_API_URL;
  const workspaces = parseWorkspaces([...(values.workspace ?? []), env.SUPERSET_WORKSPACES ?? ""]);
  for (const [id, path] of Object.entries(workspaces)) {
    if (!isAbsolute(path)) workspaces[id] = resolve(path);
    mkdirSync(workspaces[id] as string, { recursive: true });
  }
  if (Object.keys(workspaces).length === 0) throw new Error(`no workspace given\n${USAGE}`);

  const logger = pino(
    { name: "desktop-host", level: env.LOG_LEVEL, redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    pino.destination(2),
  );
  const say = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

  let bearer = values.bearer ?? env.SUPERSET_BEARER;
  const email = values.email ?? env.SUPERSET_EMAIL;
  const password = values.password ?? env.SUPERSET_PASSWORD;
  if (!bearer) {
    if (!email || !password) throw new Error(`give --bearer, or --email and --password\n${USAGE}`);
    bearer = await signInWithPassword(apiUrl, email, password);
    say(`signed in as ${email}`);
  }

  let fake: FakeAnthropic | undefined;
  let baseUrl = values["model-base-url"] ?? env.CLAUDE_MODEL_BASE_URL;
  let credentials = getExistingClaudeCredentials();
  if (values.demo || (!credentials && !baseUrl)) {
    fake = await startFakeAnthropic();
    baseUrl = fake.url;
    credentials = { source: "env", kind: "api_key", apiKey: "demo-model-no-key" };
    say(`no Claude credentials found: using the built-in demo model (${fake.url}), not Claude`);
  } else {
    say(`Claude credentials: ${describeCredentials(credentials)}${baseUrl ? ` via ${baseUrl}` : ""}`);
  }
  const claudeEnv = buildClaudeEnv({
    credentials,
    baseUrl,
    configDir: env.CLAUDE_CONFIG_DIR,
    extra: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
  });

  // A device token kept in a file makes a restarted host the same device instead of registering a new one.
  const tokenFile = values["device-token-file"] ?? env.SUPERSET_DEVICE_TOKEN_FILE;
  const storedToken = tokenFile && existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined;
  const start = (deviceToken: string | undefined) =>
    startHost({
      apiUrl,
      bearer,
      workspaces,
      deviceToken,
      deviceName: values["device-name"] ?? env.SUPERSET_DEVICE_NAME,
      claudeEnv,
      shapeUrl: values["shape-url"] ?? env.SUPERSET_SHAPE_URL,
      streamUrl: values["stream-url"] ?? env.SUPERSET_STREAM_URL,
      leaseMs: env.SUPERSET_LEASE_MS,
      pollMs: env.SUPERSET_POLL_MS,
      approvalTimeoutMs: env.SUPERSET_APPROVAL_TIMEOUT_MS,
      logger,
      onProgress: progressPrinter(say),
      processRegistryFile:
        env.SUPERSET_CLAUDE_PROCESSES_FILE ??
        (tokenFile ? join(dirname(tokenFile), "claude-processes.json") : undefined),
    });
  const explicitToken = values["device-token"] ?? env.SUPERSET_DEVICE_TOKEN;
  let host: RunningHost;
  if (!explicitToken && storedToken && tokenFile) {
    try {
      host = await start(storedToken);
    } catch (error) {
      // A revoked or unknown device: register a new one rather than refuse to start.
      if (!isRefusedCredential(error)) throw error;
      say(
        `stored device token refused (${error instanceof Error ? error.message : error}); registering anew`,
      );
      rmSync(tokenFile, { force: true });
      host = await start(undefined);
    }
  } else {
    host = await start(explicitToken);
  }
  if (tokenFile && host.deviceToken !== storedToken) {
    mkdirSync(dirname(tokenFile), { recursive: true });
    writeFileSync(tokenFile, `${host.deviceToken}\n`, { mode: 0o600 });
  }
  say(
    `host ready: device ${host.deviceId}, workspaces ${Object.entries(workspaces)
      .map(([id, path]) => `${id}=${path}`)
      .join(", ")}`,
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping (running turns go back to the queue)`);
    host
      .stop()
      .then(() => fake?.stop())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

function isRefusedCredential(error: unknown): boolean {
  const code = (error as { data?: { code?: string } } | null)?.data?.code;
  return code === "UNAUTHORIZED" || code === "FORBIDDEN" || code === "NOT_FOUND";
}

/** One line when a turn starts, one per second while it streams, one when it ends. */
export function progressPrinter(say: (line: string) => void) {
  const lastPrinted = new Map<string, number>();
  return (p: TurnProgress) => {
    const where = `session ${p.sessionId.slice(0, 8)} turn ${p.turnId.slice(0, 8)}`;
    // Too early for a meaningful rate before a quarter of a second of streaming.
    const rate = p.streamingMs >= 250 ? (p.outputTokens / (p.streamingMs / 1000)).toFixed(1) : "-";
    if (p.phase === "started") say(`${where}: started`);
    else if (p.phase === "finished") {
      lastPrinted.delete(p.turnId);
      say(
        `${where}: ${p.status}, ${p.outputTokens} tokens in ${(p.elapsedMs / 1000).toFixed(1)} s (${rate} tok/s)`,
      );
    } else if (Date.now() - (lastPrinted.get(p.turnId) ?? 0) >= 1000) {
      lastPrinted.set(p.turnId, Date.now());
      say(`${where}: streaming, ${p.outputTokens} tokens (${rate} tok/s)`);
    }
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
