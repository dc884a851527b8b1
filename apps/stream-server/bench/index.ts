import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Benchmark: this server (memory, file) against the reference @durable-streams/server (memory, file),
 * each in its own process on loopback, driven from this process. Prints one table per server and ratios.
 */
const appDir = fileURLToPath(new URL("../", import.meta.url));
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

interface Target {
  name: string;
  base: string;
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

async function startOurs(storage: "memory" | "file", dir: string): Promise<Target> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/index.ts"], {
    cwd: appDir,
    env: {
      PATH: process.env.PATH ?? "",
      PORT: "0",
      HOST: "127.0.0.1",
      STREAM_AUTH: "none",
      STREAM_STORAGE: storage,
      STREAM_DATA_DIR: dir,
      STREAM_SSE_MAX_MS: "600000",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const port = await waitForLine(child, /"port":(\d+)/);
  return { name: `ours (${storage})`, base: `http://127.0.0.1:${port}/streams`, child };
}

async function startReference(storage: "memory" | "file", dir: string): Promise<Target> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/reference.ts"], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? "", ...(storage === "file" ? { BENCH_REFERENCE_DIR: dir } : {}) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await waitForLine(child, /READY (\S+)/);
  return { name: `reference (${storage})`, base: `${url}/v1/stream`, child };
}

function request(
  url: string,
  method: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const PAYLOAD = "x".repeat(256);

async function throughput(target: Target): Promise<number> {
  const url = `${target.base}/tp-${Date.now()}`;
  await request(url, "PUT", undefined, { "content-type": "text/plain" });
  const total = 20_000;
  const concurrency = 32;
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        sent++;
        const status = await request(url, "POST", PAYLOAD, { "content-type": "text/plain" });
        if (status >= 300) throw new Error(`append failed: ${status}`);
      }
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

interface Subscriber {
  close(): void;
}

/** Opens an SSE subscriber; calls onData with the time each message carries when it arrives. */
function subscribe(url: string, onData: (sentAt: number) => void): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}?offset=now&live=sse`, { agent: false }, (res) => {
      res.setEncoding("utf8");
      let buffer = "";
      res.on("data", (chunk: string) => {
        buffer += chunk;
        const end = buffer.lastIndexOf("\n\n");
        if (end < 0) return;
        for (const match of buffer.slice(0, end).matchAll(/"t":(\d+\.\d+)/g)) onData(Number(match[1]));
        buffer = buffer.slice(end + 2);
      });
      res.on("error", () => {});
      resolve({ close: () => req.destroy() });
    });
    req.on("error", reject);
  });
}

async function latency(target: Target, subscribers: number): Promise<{ p50: number; p99: number }> {
  const url = `${target.base}/lat-${subscribers}-${Date.now()}`;
  await request(url, "PUT", undefined, { "content-type": "text/plain" });
  const samples: number[] = [];
  let pending = 0;
  let release: () => void = () => {};
  const subs: Subscriber[] = [];
  for (let i = 0; i < subscribers; i++) {
    subs.push(
      await subscribe(url, (sentAt) => {
        samples.push(performance.timeOrigin + performance.now() - sentAt);
        if (--pending === 0) release();
      }),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const rounds = subscribers >= 1000 ? 20 : 50;
  for (let round = 0; round < rounds; round++) {
    pending = subscribers;
    const delivered = new Promise<void>((resolve) => {
      release = resolve;
    });
    const t = (performance.timeOrigin + performance.now()).toFixed(3);
    await request(url, "POST", `{"t":${t}}`, { "content-type": "text/plain" });
    await Promise.race([delivered, new Promise((resolve) => setTimeout(resolve, 2000))]);
  }
  for (const sub of subs) sub.close();
  samples.sort((a, b) => a - b);
  const at = (q: number) =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) * 1024;
}

async function idleMemory(target: Target): Promise<number> {
  const url = `${target.base}/idle-${Date.now()}`;
  await request(url, "PUT", undefined, { "content-type": "text/plain" });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = rssBytes(target.child.pid as number);
  const subs: Subscriber[] = [];
  for (let i = 0; i < 1000; i++) subs.push(await subscribe(url, () => {}));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const after = rssBytes(target.child.pid as number);
  for (const sub of subs) sub.close();
  return (after - before) / 1000;
}

async function measure(target: Target) {
  const result = {
    throughput: await throughput(target),
    l1: await latency(target, 1),
    l100: await latency(target, 100),
    l1000: await latency(target, 1000),
    idle: await idleMemory(target),
  };
  return result;
}

type Result = Awaited<ReturnType<typeof measure>>;

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

function table(name: string, r: Result): string {
  return [
    `### ${name}`,
    "| metric | value |",
    "|---|---|",
    `| append throughput, 256 B, 32 concurrent (appends/s) | ${fmt(r.throughput, 0)} |`,
    `| append→SSE p50 / p99, 1 subscriber (ms) | ${fmt(r.l1.p50, 2)} / ${fmt(r.l1.p99, 2)} |`,
    `| append→SSE p50 / p99, 100 subscribers (ms) | ${fmt(r.l100.p50, 2)} / ${fmt(r.l100.p99, 2)} |`,
    `| append→SSE p50 / p99, 1000 subscribers (ms) | ${fmt(r.l1000.p50, 2)} / ${fmt(r.l1000.p99, 2)} |`,
    `| RSS per idle SSE subscriber, 1000 open (KiB) | ${fmt(r.idle / 1024, 1)} |`,
  ].join("\n");
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "ds-bench-"));
  const results: Array<{ name: string; result: Result }> = [];
  try {
    for (const start of [
      () => startOurs("memory", join(dir, "ours-mem")),
      () => startReference("memory", join(dir, "ref-mem")),
      () => startOurs("file", join(dir, "ours-file")),
      () => startReference("file", join(dir, "ref-file")),
    ]) {
      const target = await start();
      try {
        const result = await measure(target);
        results.push({ name: target.name, result });
        process.stdout.write(`${table(target.name, result)}\n\n`);
      } finally {
        target.child.kill("SIGTERM");
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    agent.destroy();
  }
  const byName = new Map(results.map((r) => [r.name, r.result]));
  process.stdout.write(
    "### ratios ours / reference (throughput: higher is better; latency and memory: lower is better)\n",
  );
  process.stdout.write(
    "| storage | throughput | p99 1 sub | p99 100 subs | p99 1000 subs | memory per subscriber |\n|---|---|---|---|---|---|\n",
  );
  for (const storage of ["memory", "file"]) {
    const ours = byName.get(`ours (${storage})`);
    const ref = byName.get(`reference (${storage})`);
    if (!ours || !ref) continue;
    process.stdout.write(
      `| ${storage} | ${fmt(ours.throughput / ref.throughput, 2)} | ${fmt(ours.l1.p99 / ref.l1.p99, 2)} | ${fmt(ours.l100.p99 / ref.l100.p99, 2)} | ${fmt(ours.l1000.p99 / ref.l1000.p99, 2)} | ${fmt(ours.idle / ref.idle, 2)} |\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
