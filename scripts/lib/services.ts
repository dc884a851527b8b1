import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import path from "node:path";

export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** URL answering 2xx once the service is ready. */
  healthUrl?: string;
  /** Show the service's output on this terminal instead of only in its log file. */
  foreground?: boolean;
}

export interface RunningService {
  spec: ServiceSpec;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

export function startService(spec: ServiceSpec, logDir: string, cwd: string): RunningService {
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${spec.name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  // Its own process group, so that stopping it also stops what it started (npm → sh → next).
  const child = spawn(spec.command, spec.args, {
    cwd,
    env: spec.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split("\n")
      .filter(Boolean)
      .map((line) => `[${spec.name}] ${line}\n`)
      .join("");
  child.stdout?.on("data", (chunk: Buffer) => {
    log.write(chunk);
    if (spec.foreground) process.stdout.write(prefix(chunk));
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    log.write(chunk);
    if (spec.foreground) process.stderr.write(prefix(chunk));
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { spec, child, logFile, exited };
}

export async function waitHealthy(service: RunningService, timeoutMs = 120_000): Promise<void> {
  const url = service.spec.healthUrl;
  if (!url) return;
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void service.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${service.spec.name} exited during start-up; see ${service.logFile}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${service.spec.name} did not become healthy at ${url}; see ${service.logFile}`);
}

/** SIGTERM every service, then SIGKILL what is still alive after the grace period. */
export async function stopServices(services: RunningService[], graceMs = 10_000): Promise<void> {
  await Promise.all(
    services.map(async (s) => {
      if (s.child.exitCode !== null || s.child.signalCode !== null) return;
      signalGroup(s.child, "SIGTERM");
      const timer = setTimeout(() => signalGroup(s.child, "SIGKILL"), graceMs);
      await s.exited;
      clearTimeout(timer);
      // Whatever the leader left behind in its group goes too.
      signalGroup(s.child, "SIGKILL");
    }),
  );
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
