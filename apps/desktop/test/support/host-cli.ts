import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { makeSandbox } from "./harness";

/**
 * The headless host CLI (`src/host/cli.ts`) as a child process of the test,
 * signed in with a bearer, talking to the fake model. Its stdout (progress
 * lines) and stderr (pino JSON) are kept for assertions and failure output.
 */
export interface HostProcess {
  process: ChildProcess;
  output: () => string;
  /** Resolves once a stdout line matches. */
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  kill: (signal?: NodeJS.Signals) => Promise<void>;
}

const cli = fileURLToPath(new URL("../../src/host/cli.ts", import.meta.url));

export async function startHostCli(options: {
  apiUrl: string;
  bearer: string;
  workspaces: Record<string, string>;
  modelBaseUrl: string;
  sandbox: ReturnType<typeof makeSandbox>;
  leaseMs: number;
  logLevel?: string;
}): Promise<HostProcess> {
  const args = ["--import", "tsx", cli, "--api", options.apiUrl, "--model-base-url", options.modelBaseUrl];
  for (const [id, path] of Object.entries(options.workspaces)) args.push("--workspace", `${id}=${path}`);
  const child = spawn(process.execPath, args, {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: options.sandbox.home,
      CLAUDE_CONFIG_DIR: options.sandbox.configDir,
      ANTHROPIC_API_KEY: "sk-ant-test-dummy",
      SUPERSET_BEARER: options.bearer,
      SUPERSET_LEASE_MS: String(options.leaseMs),
      SUPERSET_POLL_MS: "600000",
      LOG_LEVEL: options.logLevel ?? "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let stdout = "";
  const watchers = new Set<() => void>();
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    out = (out + chunk.toString()).slice(-50_000);
    for (const wake of watchers) wake();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-50_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = stdout.split("\n").find((l) => pattern.test(l));
        if (line !== undefined) {
          done();
          resolve(line);
        } else if (child.exitCode !== null) {
          done();
          reject(new Error(`host exited with ${child.exitCode} before ${pattern}:\n${out}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`host printed no ${pattern} in ${timeoutMs} ms:\n${out}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      void exited.then(check);
      check();
    });

  const host: HostProcess = {
    process: child,
    output: () => out,
    waitFor,
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  try {
    await waitFor(/host ready/);
  } catch (error) {
    await host.kill();
    throw error;
  }
  return host;
}

/**
 * Claude Code processes outlive a host killed with SIGKILL (nothing tells them
 * their parent died). Ends those whose CLAUDE_CONFIG_DIR is the given one (Linux /proc).
 */
export function killOrphanedClaude(configDir: string): number[] {
  const killed: number[] = [];
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return killed;
  }
  for (const pid of pids) {
    let environ = "";
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "utf8");
    } catch {
      continue;
    }
    if (!environ.split("\0").includes(`CLAUDE_CONFIG_DIR=${configDir}`)) continue;
    try {
      process.kill(Number(pid), "SIGKILL");
      killed.push(Number(pid));
    } catch {}
  }
  return killed;
}
