import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type FakeAnthropic, slowReply, startFakeAnthropic } from "@superset/fake-anthropic";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessRegistry } from "../src/main/lib/claude/process-registry";
import { ClaudeSessionManager } from "../src/main/lib/claude/session-manager";
import { fakeModelEnv, makeSandbox, memoryLogger } from "./support/harness";

// A manager killed with SIGKILL leaves its Claude Code processes running; the next one stops them.
const sandbox = makeSandbox("desktop-orphans-");
const children: ChildProcess[] = [];
let fake: FakeAnthropic;

beforeAll(async () => {
  // A reply that takes about a minute to stream: the turn is still running when its manager dies.
  fake = await startFakeAnthropic({ script: () => slowReply("x".repeat(1200), 100) });
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await fake?.stop();
  sandbox.cleanup();
});

/** Whether the process runs (a zombie, dead but not yet collected by its new parent, does not). */
const alive = (pid: number) => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
};

async function gone(pid: number, withinMs = 8_000): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !alive(pid);
}

function spawnLogged(command: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return child;
}

describe("Claude Code processes left by a killed manager", () => {
  it("are stopped by the next manager on the same file when they are still running a turn", async () => {
    const file = join(sandbox.root, "claude-processes.json");
    const maker = fileURLToPath(new URL("./support/orphan-maker.ts", import.meta.url));
    const child = spawnLogged(process.execPath, ["--import", "tsx", maker], {
      ...process.env,
      ORPHAN_MAKER: JSON.stringify({ env: fakeModelEnv(fake.url, sandbox), cwd: sandbox.workspace, file }),
    });
    const claudePid = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /STREAMING (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.stderr?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.once("exit", (code) => reject(new Error(`orphan maker exited with ${code}: ${out}`)));
    });
    expect(existsSync(file)).toBe(true);
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    // Nothing ties the child's life to its parent's: mid-turn, it goes on working.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(alive(claudePid)).toBe(true);

    const next = new ClaudeSessionManager({
      env: fakeModelEnv(fake.url, sandbox),
      logger: memoryLogger().logger,
      processRegistryFile: file,
    });
    try {
      expect(next.reapedProcesses).toEqual([claudePid]);
      expect(await gone(claudePid)).toBe(true);
      expect(existsSync(file)).toBe(false);
    } finally {
      await next.close();
    }
  }, 60_000);

  it("leaves alone a process that reused the id, and the processes of a manager still running", async () => {
    const file = join(sandbox.root, "claude-processes-2.json");
    const unrelated = spawnLogged("sleep", ["60"]);
    const stillOwned = spawnLogged("sleep", ["61"]);
    const orphan = spawnLogged("sleep", ["62"]);
    const deadOwner = 2 ** 22 + 17; // above Linux's default pid_max: no such process
    writeFileSync(
      file,
      JSON.stringify([
        // The id now belongs to another program.
        { pid: unrelated.pid, argv: ["/opt/claude/claude", "--output-format"], owner: deadOwner },
        // Its manager (here: this test's own process) is alive.
        { pid: stillOwned.pid, argv: ["sleep", "61"], owner: process.ppid },
        { pid: orphan.pid, argv: ["sleep", "62"], owner: deadOwner },
      ]),
    );
    const registry = new ProcessRegistry(file, memoryLogger().logger);
    expect(registry.reapOrphans()).toEqual([orphan.pid]);
    expect(await gone(orphan.pid as number)).toBe(true);
    expect(alive(unrelated.pid as number)).toBe(true);
    expect(alive(stillOwned.pid as number)).toBe(true);
  });
});
