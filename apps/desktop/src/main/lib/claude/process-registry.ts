import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "./logger";

/**
 * The Claude Code processes a manager started, kept in a file so that the next run can stop the ones
 * a crash left behind (a host killed with SIGKILL, or an app that crashed, leaves its children running:
 * nothing in Node ties a child's life to its parent's).
 *
 * An entry is stopped only when its manager is gone and the process still runs the command line it was
 * started with: a process id reused by anything else, or the processes of another manager that is still
 * running on the same file, are left alone. One manager writes a file: two in one process would each
 * write only their own entries.
 */
interface Entry {
  pid: number;
  /** The program and its first argument, as started. */
  argv: string[];
  /** The manager's own process. */
  owner: number;
}

export class ProcessRegistry {
  private entries: Entry[] = [];

  constructor(
    private readonly file: string,
    private readonly logger: Logger,
    private readonly platform: NodeJS.Platform = process.platform,
  ) {}

  /** Stops what an earlier run left; returns the process ids it signalled. */
  reapOrphans(graceMs = 3_000): number[] {
    const previous = this.read();
    const reaped: number[] = [];
    const kept: Entry[] = [];
    for (const entry of previous) {
      if (entry.owner !== process.pid && isAlive(entry.owner)) {
        kept.push(entry);
        continue;
      }
      if (!isAlive(entry.pid) || !this.runs(entry)) continue;
      try {
        process.kill(entry.pid, "SIGTERM");
        reaped.push(entry.pid);
        // A last resort for one that ignores SIGTERM; the app does not wait for it.
        setTimeout(() => {
          if (isAlive(entry.pid) && this.runs(entry)) process.kill(entry.pid, "SIGKILL");
        }, graceMs).unref();
      } catch (error) {
        this.logger.warn({ pid: entry.pid, err: String(error) }, "could not stop a leftover Claude process");
      }
    }
    if (reaped.length > 0)
      this.logger.warn({ pids: reaped }, "stopped Claude processes left by an earlier run");
    this.entries = kept;
    this.write();
    return reaped;
  }

  add(pid: number, argv: string[]): void {
    this.entries.push({ pid, argv: argv.slice(0, 2), owner: process.pid });
    this.write();
  }

  remove(pid: number): void {
    const before = this.entries.length;
    this.entries = this.entries.filter((entry) => entry.pid !== pid);
    if (this.entries.length !== before) this.write();
  }

  private read(): Entry[] {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      return [];
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      return Array.isArray(parsed) ? parsed.filter(isEntry) : [];
    } catch {
      this.logger.warn({ file: this.file }, "unreadable Claude process list: ignored");
      return [];
    }
  }

  /** Atomically: a crash mid-write leaves the old list, never half of one. */
  private write(): void {
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      if (this.entries.length === 0) {
        rmSync(this.file, { force: true });
        return;
      }
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(this.entries), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch (error) {
      this.logger.warn({ file: this.file, err: String(error) }, "could not record Claude processes");
    }
  }

  /** Whether the process still runs what the entry started (not a process that reused its id). */
  private runs(entry: Entry): boolean {
    const line = this.commandLine(entry.pid);
    const expected = entry.argv.join(" ");
    return line !== undefined && (line === expected || line.startsWith(`${expected} `));
  }

  /** The command line, arguments joined by spaces; undefined where it cannot be read. */
  private commandLine(pid: number): string | undefined {
    try {
      if (this.platform === "linux") {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
      }
      if (this.platform === "win32") return undefined;
      // macOS and other POSIX systems.
      return (
        execFileSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" }).trim() || undefined
      );
    } catch {
      return undefined;
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function isEntry(value: unknown): value is Entry {
  const entry = value as Entry;
  return (
    typeof entry === "object" &&
    entry !== null &&
    Number.isInteger(entry.pid) &&
    entry.pid > 0 &&
    Number.isInteger(entry.owner) &&
    Array.isArray(entry.argv) &&
    entry.argv.length > 0 &&
    entry.argv.every((arg) => typeof arg === "string")
  );
}
