import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mintStreamToken } from "@superset/stream-tokens";
import { RawConnection, subscribeRaw } from "./raw-http";

/**
 * Benchmark: this server (memory, file) against the reference @durable-streams/server (memory, file),
 * each in its own process on loopback, driven from this process. Prints one table per server and ratios.
 */
const appDir = fileURLToPath(new URL("../", import.meta.url));

interface Target {
  name: string;
  port: number;
  /** Path prefix of streams, e.g. `/streams`. */
  prefix: string;
  /** Headers that authorize requests to one stream path (a bearer token), when the server checks them. */
  auth?: (path: string) => Promise<Record<string, string>>;
  child: ChildProcess;
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`start timeout: ${out}`)), 30_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = out.match(pattern);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
  });
}

const AUTH_SECRET = randomBytes(32).toString("base64url");

/** A token for the session a bench path names (its last segment), with the read and append rights. */
async function benchToken(path: string): Promise<Record<string, string>> {
  const sessionId = path.split("/").at(-1) as string;
  const { token } = await mintStreamToken(
    { userId: "bench", organizationId: "bench-org", sessionId, rights: ["read", "append"] },
    { secret: AUTH_SECRET },
  );
  return { authorization: `Bearer ${token}` };
}

async function startOurs(storage: "memory" | "file", dir: string, auth = false): Promise<Target> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/index.ts"], {
    cwd: appDir,
    env: {
      PATH: process.env.PATH ?? "",
      PORT: "0",
      HOST: "127.0.0.1",
      ...(auth ? { STREAM_AUTH: "jwt", STREAM_AUTH_SECRET: AUTH_SECRET } : { STREAM_AUTH: "none" }),
      STREAM_RATE_LIMIT_PER_SEC: "10000000",
      STREAM_RATE_LIMIT_BURST: "10000000",
      STREAM_STORAGE: storage,
      STREAM_DATA_DIR: dir,
      STREAM_SSE_MAX_MS: "600000",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const port = await waitForLine(child, /"port":(\d+)/);
  return {
    name: `ours (${storage}${auth ? ", auth on" : ""})`,
    port: Number(port),
    prefix: "/streams",
    child,
    ...(auth ? { auth: benchToken } : {}),
  };
}

async function startReference(storage: "memory" | "file", dir: string): Promise<Target> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/reference.ts"], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? "", ...(storage === "file" ? { BENCH_REFERENCE_DIR: dir } : {}) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await waitForLine(child, /READY (\S+)/);
  return { name: `reference (${storage})`, port: Number(new URL(url).port), prefix: "/v1/stream", child };
}

async function startFloor(script: "bench/floor.ts" | "bench/floor-net.ts", name: string): Promise<Target> {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await waitForLine(child, /READY (\S+)/);
  return { name, port: Number(new URL(url).port), prefix: "/floor", child };
}

const PAYLOAD = "x".repeat(256);
const TEXT = { "content-type": "text/plain" };

async function create(target: Target, path: string): Promise<void> {
  const connection = await RawConnection.open(target.port);
  try {
    const status = await connection.request("PUT", path, "", { ...TEXT, ...(await target.auth?.(path)) });
    if (status !== 201 && status !== 200) throw new Error(`create failed: ${status}`);
  } finally {
    connection.close();
  }
}

/** CPU time (user + system, which includes the kernel's loopback TCP work) a process has used, in µs. */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux this runs on (the kernel's ABI value for /proc). */
const CLOCK_TICKS = 100;

async function throughput(target: Target): Promise<{ perSecond: number; cpuMicros: number }> {
  const path = `${target.prefix}/tp-${Date.now()}`;
  await create(target, path);
  const headers = { ...TEXT, ...(await target.auth?.(path)) };
  const concurrency = 32;
  const connections = await Promise.all(
    Array.from({ length: concurrency }, () => RawConnection.open(target.port)),
  );
  const run = async (count: number) => {
    let sent = 0;
    await Promise.all(
      connections.map(async (connection) => {
        while (sent < count) {
          sent++;
          const status = await connection.request("POST", path, PAYLOAD, headers);
          if (status >= 300) throw new Error(`append failed: ${status}`);
        }
      }),
    );
  };
  try {
    // Warm-up (JIT, buffers), not counted: both servers are measured hot.
    const warmupStarted = performance.now();
    await run(4_000);
    // About two seconds a run: 30,000 appends for fast servers, fewer for slow ones (the reference
    // with file storage fsyncs each append and takes minutes for 30,000).
    const warmRate = 4_000 / ((performance.now() - warmupStarted) / 1000);
    const total = Math.round(Math.min(30_000, Math.max(2_000, warmRate * 2)));
    // Three runs, the median of each figure: a shared machine's neighbours move single runs by a
    // quarter.
    const pid = target.child.pid as number;
    const runs: Array<{ perSecond: number; cpuMicros: number }> = [];
    for (let i = 0; i < 3; i++) {
      const cpuBefore = cpuMicros(pid);
      const started = performance.now();
      await run(total);
      runs.push({
        perSecond: total / ((performance.now() - started) / 1000),
        cpuMicros: (cpuMicros(pid) - cpuBefore) / total,
      });
    }
    const median = (values: number[]) => values.sort((a, b) => a - b)[1] as number;
    return {
      perSecond: median(runs.map((r) => r.perSecond)),
      cpuMicros: median(runs.map((r) => r.cpuMicros)),
    };
  } finally {
    for (const connection of connections) connection.close();
  }
}

async function latency(target: Target, subscribers: number): Promise<{ p50: number; p99: number }> {
  const path = `${target.prefix}/lat-${subscribers}-${Date.now()}`;
  await create(target, path);
  const auth = (await target.auth?.(path)) ?? {};
  const samples: number[] = [];
  let pending = 0;
  let release: () => void = () => {};
  const subs: Array<{ close(): void }> = [];
  const writer = await RawConnection.open(target.port);
  try {
    for (let i = 0; i < subscribers; i++) {
      subs.push(
        await subscribeRaw(target.port, `${path}?offset=now&live=sse`, auth, (sentAt, now) => {
          samples.push(now - sentAt);
          if (--pending === 0) release();
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Warm-up rounds are not counted: each round runs the fan-out once, and it takes about 15
    // rounds before every server's loop is optimised and its round times settle.
    const warmup = 20;
    const rounds = warmup + (subscribers >= 1000 ? 100 : 200);
    for (let round = 0; round < rounds; round++) {
      pending = subscribers;
      if (round === warmup) samples.length = 0;
      const delivered = new Promise<void>((resolve) => {
        release = resolve;
      });
      const status = await writer.request("POST", path, `{"t":${performance.now().toFixed(3)}}`, {
        ...TEXT,
        ...auth,
      });
      if (status >= 300) throw new Error(`append failed: ${status}`);
      await Promise.race([delivered, new Promise((resolve) => setTimeout(resolve, 2000))]);
      // Let the machine settle between rounds, so rounds do not overlap.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    writer.close();
    for (const sub of subs) sub.close();
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) * 1024;
}

/**
 * Memory of the second thousand idle subscribers: the first thousand pay for one-time growth (heap
 * spaces, compiled code, socket pools) that the thousand after them show no more of.
 */
async function idleMemory(target: Target): Promise<number> {
  const path = `${target.prefix}/idle-${Date.now()}`;
  await create(target, path);
  const auth = (await target.auth?.(path)) ?? {};
  const subs: Array<{ close(): void }> = [];
  const open = async (count: number) => {
    for (let i = 0; i < count; i++)
      subs.push(await subscribeRaw(target.port, `${path}?offset=now&live=sse`, auth, () => {}));
    await new Promise((resolve) => setTimeout(resolve, 1000));
  };
  try {
    await open(1000);
    const before = rssBytes(target.child.pid as number);
    await open(1000);
    return (rssBytes(target.child.pid as number) - before) / 1000;
  } finally {
    for (const sub of subs) sub.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const FAILED = { p50: Number.NaN, p99: Number.NaN };

/** Runs one measurement; a failure is reported and leaves the value n/a, the others still run. */
async function attempt<T>(target: Target, what: string, run: () => Promise<T>, failed: T): Promise<T> {
  if (target.child.exitCode !== null || target.child.signalCode !== null) return failed;
  try {
    return await run();
  } catch (error) {
    process.stderr.write(`${target.name}: ${what} failed: ${(error as Error).message}\n`);
    return failed;
  }
}

/**
 * Each server twice, fresh each time: once for idle memory alone (after 60,000 appends the heap's
 * own growth and collections would swamp what 1000 connections cost), once for the rest (so the
 * 2000 connections of the memory measurement leave no garbage behind for the others to collect).
 */
async function measure(start: () => Promise<Target>) {
  const fresh = await start();
  let idle: number;
  try {
    idle = await attempt(fresh, "idle memory", () => idleMemory(fresh), Number.NaN);
  } finally {
    await stop(fresh.child);
  }
  const target = await start();
  try {
    return {
      idle,
      throughput: await attempt(target, "throughput", () => throughput(target), {
        perSecond: Number.NaN,
        cpuMicros: Number.NaN,
      }),
      l1: await attempt(target, "latency, 1 subscriber", () => latency(target, 1), FAILED),
      l100: await attempt(target, "latency, 100 subscribers", () => latency(target, 100), FAILED),
      l1000: await attempt(target, "latency, 1000 subscribers", () => latency(target, 1000), FAILED),
    };
  } finally {
    await stop(target.child);
  }
}

type Result = Awaited<ReturnType<typeof measure>>;

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

function table(name: string, r: Result): string {
  return [
    `### ${name}`,
    "| metric | value |",
    "|---|---|",
    `| append throughput, 256 B, 32 concurrent, median of 3 (appends/s) | ${fmt(r.throughput.perSecond, 0)} |`,
    `| server CPU per append, user + kernel (µs) | ${fmt(r.throughput.cpuMicros, 1)} |`,
    `| append→SSE p50 / p99, 1 subscriber (ms) | ${fmt(r.l1.p50, 2)} / ${fmt(r.l1.p99, 2)} |`,
    `| append→SSE p50 / p99, 100 subscribers (ms) | ${fmt(r.l100.p50, 2)} / ${fmt(r.l100.p99, 2)} |`,
    `| append→SSE p50 / p99, 1000 subscribers (ms) | ${fmt(r.l1000.p50, 2)} / ${fmt(r.l1000.p99, 2)} |`,
    `| RSS per idle SSE subscriber, 1000 more open (KiB) | ${fmt(r.idle / 1024, 1)} |`,
  ].join("\n");
}

/** SIGTERM, then SIGKILL if the server has not exited within `graceMs` (the reference may ignore it under load). */
function stop(child: ChildProcess, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => {
      process.stderr.write(`pid ${child.pid} ignored SIGTERM for ${graceMs} ms: SIGKILL\n`);
      child.kill("SIGKILL");
    }, graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

const FLOOR = "floor (memory; bare node:http, no protocol)";
const NET_FLOOR = "floor (memory; raw net, no HTTP library, no protocol)";

const STARTERS = {
  [NET_FLOOR]: () => startFloor("bench/floor-net.ts", NET_FLOOR),
  [FLOOR]: () => startFloor("bench/floor.ts", FLOOR),
  "ours (memory)": (dir: string) => startOurs("memory", join(dir, "ours-mem")),
  "reference (memory)": (dir: string) => startReference("memory", join(dir, "ref-mem")),
  "ours (memory, auth on)": (dir: string) => startOurs("memory", join(dir, "ours-mem-auth"), true),
  "ours (file)": (dir: string) => startOurs("file", join(dir, "ours-file")),
  "reference (file)": (dir: string) => startReference("file", join(dir, "ref-file")),
};

async function main() {
  // `npm run bench -- memory` runs only the memory servers.
  const only = process.argv[2];
  const dir = mkdtempSync(join(tmpdir(), "ds-bench-"));
  const results = new Map<string, Result>();
  try {
    for (const [name, start] of Object.entries(STARTERS)) {
      if (only && !name.includes(only)) continue;
      try {
        const result = await measure(() => start(dir));
        results.set(name, result);
        process.stdout.write(`${table(name, result)}\n\n`);
      } catch (error) {
        process.stderr.write(`${name}: ${(error as Error).message}\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write("### ratios (throughput: higher is better; latency and memory: lower is better)\n");
  process.stdout.write(
    "| servers | throughput | p99 1 sub | p99 100 subs | p99 1000 subs | memory per subscriber |\n|---|---|---|---|---|---|\n",
  );
  const missing = {
    throughput: { perSecond: Number.NaN, cpuMicros: Number.NaN },
    l1: FAILED,
    l100: FAILED,
    l1000: FAILED,
    idle: Number.NaN,
  };
  for (const storage of ["memory", "file"]) {
    if (only && !storage.includes(only)) continue;
    const ours = results.get(`ours (${storage})`) ?? missing;
    const ref = results.get(`reference (${storage})`) ?? missing;
    process.stdout.write(ratioRow(`${storage}: ours / reference`, ours, ref));
  }
  if (!only || FLOOR.includes(only)) {
    const ref = results.get("reference (memory)") ?? missing;
    process.stdout.write(ratioRow("memory, node:http floor / reference", results.get(FLOOR) ?? missing, ref));
    process.stdout.write(
      ratioRow("memory, raw net floor / reference", results.get(NET_FLOOR) ?? missing, ref),
    );
  }
}

function ratioRow(label: string, ours: Result, other: Result): string {
  return `| ${label} | ${fmt(ours.throughput.perSecond / other.throughput.perSecond, 2)} | ${fmt(ours.l1.p99 / other.l1.p99, 2)} | ${fmt(ours.l100.p99 / other.l100.p99, 2)} | ${fmt(ours.l1000.p99 / other.l1000.p99, 2)} | ${fmt(ours.idle / other.idle, 2)} |\n`;
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
