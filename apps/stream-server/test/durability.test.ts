import type { ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { killHard, spawnServer, startChildServer } from "./support/child";
import { tempDir } from "./support/server";

const dir = tempDir("ds-crash-");
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) await killHard(child);
  dir.remove();
});

const env = { STREAM_STORAGE: "file", STREAM_DATA_DIR: dir.path, STREAM_AUTH: "none" };

describe("file storage durability", () => {
  it("keeps every acknowledged append across kill -9, and a reader resumes without gap or duplicate", async () => {
    await killDuringAppends(env);
  });

  it("keeps them too while segments fill and compactions run", async () => {
    const compacting = tempDir("ds-crash-compact-");
    try {
      await killDuringAppends({
        ...env,
        STREAM_DATA_DIR: compacting.path,
        STREAM_SEGMENT_BYTES: "4096",
        STREAM_COMPACT_AFTER_SEGMENTS: "1",
      });
      // Compactions ran: a snapshot replaced the first segments.
      const files = readdirSync(compacting.path);
      expect(files.some((name) => name.startsWith("snapshot-"))).toBe(true);
      expect(files).not.toContain("segment-000001.log");
    } finally {
      compacting.remove();
    }
  });

  it("refuses to start without a secret unless STREAM_AUTH=none, naming the variable", async () => {
    const child = spawnServer({ STREAM_STORAGE: "memory" });
    children.push(child);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(1);
    expect(stderr).toContain("STREAM_AUTH_SECRET");
  });
});

async function killDuringAppends(env: Record<string, string>): Promise<void> {
  const first = await startChildServer(env);
  children.push(first.child);
  const url = `${first.url}/streams/crash`;
  expect((await fetch(url, { method: "PUT", headers: { "content-type": "application/json" } })).status).toBe(
    201,
  );

  // A reader reads part of the stream and keeps its offset.
  const acknowledged: number[] = [];
  for (let i = 0; i < 20; i++) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ i }),
    });
    expect(res.status).toBe(204);
    acknowledged.push(i);
  }
  const partial = await fetch(`${url}?offset=-1`);
  const readerOffset = partial.headers.get("stream-next-offset") as string;
  const seenBefore = ((await partial.json()) as Array<{ i: number }>).map((m) => m.i);

  // Concurrent appends in flight when the process is killed: only acknowledged ones must survive.
  let next = 20;
  const writers = Array.from({ length: 8 }, async () => {
    for (;;) {
      const i = next++;
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ i }),
        });
        if (res.status === 204) acknowledged.push(i);
        else return;
      } catch {
        return;
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await killHard(first.child);
  await Promise.all(writers);

  const second = await startChildServer(env);
  children.push(second.child);
  const all = await fetch(`${second.url}/streams/crash?offset=-1`);
  const stored = ((await all.json()) as Array<{ i: number }>).map((m) => m.i);
  for (const i of acknowledged) expect(stored).toContain(i);
  expect(new Set(stored).size).toBe(stored.length);

  const resumed = await fetch(`${second.url}/streams/crash?offset=${readerOffset}`);
  const seenAfter = ((await resumed.json()) as Array<{ i: number }>).map((m) => m.i);
  expect([...seenBefore, ...seenAfter]).toEqual(stored);
  expect(acknowledged.length).toBeGreaterThan(20);

  // The restarted server still accepts appends after the cut tail.
  const more = await fetch(`${second.url}/streams/crash`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ i: -1 }),
  });
  expect(more.status).toBe(204);
  await killHard(second.child);
}
