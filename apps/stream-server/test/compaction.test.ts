import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileBackend } from "../src/store/file";
import { StreamEngine } from "../src/streams/engine";
import { tempDir } from "./support/server";

const text = { contentType: "text/plain" };
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function openEngine(dir: string, compactAfterSegments: number) {
  const backend = await FileBackend.open({ dir, fsync: true, segmentBytes: 4096, compactAfterSegments });
  const engine = new StreamEngine(backend);
  return { backend, engine };
}

/** Everything a reader can see: each stream's messages and metadata, and the control records. */
async function stateOf(engine: StreamEngine, backend: FileBackend, paths: string[]) {
  const streams: Record<string, unknown> = {};
  for (const path of paths) {
    try {
      const { meta, messages } = await engine.read(path, "");
      streams[path] = {
        tail: meta.tailOffset,
        version: meta.version,
        closed: meta.closed,
        producers: meta.producers,
        messages: messages.map((m) => `${m.offset}=${Buffer.from(m.data).toString()}`),
      };
    } catch (error) {
      streams[path] = (error as { status?: number }).status;
    }
  }
  return { streams, records: await backend.listRecords("") };
}

function diskBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

describe("file storage compaction", () => {
  it("replaces the filled segments by a snapshot that restores the same state, without what was deleted", async () => {
    const dir = tempDir("ds-compact-");
    cleanups.push(() => dir.remove());
    let { backend, engine } = await openEngine(dir.path, 2);
    cleanups.push(() => engine.close());
    for (const path of ["/keep", "/gone", "/closed"]) await engine.create(path, text);
    const producer = { id: "p1", epoch: 0, seq: 0 };
    for (let i = 0; i < 40; i++) {
      await engine.append("/keep", Buffer.from(`keep-${i}`), { ...text, producer: { ...producer, seq: i } });
      await engine.append("/gone", Buffer.from("x".repeat(500)), text);
    }
    await engine.append("/closed", Buffer.from("last"), { ...text, close: true });
    await backend.putRecord("rec", 0, "v1");
    await backend.putRecord("rec", 1, "v2");
    await engine.delete("/gone");
    const writtenBeforeCompaction = diskBytes(dir.path);
    // More appends fill segments, which starts compactions; some land while one runs.
    const appends = Array.from({ length: 60 }, (_, i) =>
      engine.append("/keep", Buffer.from(`more-${i}`), { ...text, producer: { ...producer, seq: 40 + i } }),
    );
    await Promise.all(appends);
    await backend.settled();
    expect(backend.compactionError).toBeUndefined();

    const files = readdirSync(dir.path);
    expect(files.filter((name) => name.startsWith("snapshot-"))).toHaveLength(1);
    expect(backend.files.baseSegment).toBeGreaterThan(1);
    expect(files).not.toContain("segment-000001.log");
    expect(diskBytes(dir.path)).toBeLessThan(writtenBeforeCompaction);

    const paths = ["/keep", "/gone", "/closed"];
    const before = await stateOf(engine, backend, paths);
    expect((before.streams["/keep"] as { messages: string[] }).messages).toHaveLength(100);
    expect(before.streams["/gone"]).toBe(404);
    await engine.close();
    cleanups.pop();

    ({ backend, engine } = await openEngine(dir.path, 0));
    cleanups.push(() => engine.close());
    expect(await stateOf(engine, backend, paths)).toEqual(before);
    // The producer's state survived: its next sequence number is accepted, a replay is a duplicate.
    const next = await engine.append("/keep", Buffer.from("after"), {
      ...text,
      producer: { ...producer, seq: 100 },
    });
    expect(next.kind).toBe("appended");
    const again = await engine.append("/keep", Buffer.from("after"), {
      ...text,
      producer: { ...producer, seq: 100 },
    });
    expect(again.kind).toBe("duplicate");
  });

  it("ignores what an interrupted compaction left, and refuses a damaged snapshot", async () => {
    const dir = tempDir("ds-compact-left-");
    cleanups.push(() => dir.remove());
    let { backend, engine } = await openEngine(dir.path, 1);
    await engine.create("/s", text);
    for (let i = 0; i < 30; i++) await engine.append("/s", Buffer.from("y".repeat(300)), text);
    await engine.delete("/s");
    await engine.create("/s", text);
    for (let i = 0; i < 30; i++) await engine.append("/s", Buffer.from(`z-${i}`.padEnd(300, "z")), text);
    await backend.settled();
    const before = await stateOf(engine, backend, ["/s"]);
    const base = backend.files.baseSegment;
    expect(base).toBeGreaterThan(1);
    await engine.close();

    // A crash mid-compaction: an unfinished snapshot, and an old segment not yet deleted.
    const stale = join(dir.path, `snapshot-${String(base + 5).padStart(6, "0")}.log.tmp`);
    writeFileSync(stale, "half a snapshot");
    const oldSegment = join(dir.path, "segment-000001.log");
    writeFileSync(oldSegment, "already compacted");
    ({ backend, engine } = await openEngine(dir.path, 0));
    expect(await stateOf(engine, backend, ["/s"])).toEqual(before);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(oldSegment)).toBe(false);
    await engine.close();

    const snapshot = join(dir.path, `snapshot-${String(base).padStart(6, "0")}.log`);
    const bytes = statSync(snapshot).size;
    writeFileSync(snapshot, Buffer.alloc(bytes, 1));
    await expect(FileBackend.open({ dir: dir.path })).rejects.toThrow(/damaged/);
  });
});
