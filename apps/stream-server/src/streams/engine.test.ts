import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { StreamError } from "../protocol/errors";
import { FileBackend } from "../store/file";
import { MemoryBackend } from "../store/memory";
import { StreamEngine } from "./engine";

const body = (text: string) => Buffer.from(text);
const text = { contentType: "text/plain" };
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function memoryEngine(now?: () => number): StreamEngine {
  const engine = new StreamEngine(new MemoryBackend(), now);
  cleanups.push(() => engine.close());
  return engine;
}

async function texts(engine: StreamEngine, path: string): Promise<string[]> {
  const { messages } = await engine.read(path, "");
  return messages.map((message) => Buffer.from(message.data).toString());
}

describe("appends served at once (tryAppendNow)", () => {
  it("commits in the same step with the offsets the queued path gives", async () => {
    const engine = memoryEngine();
    await engine.create("/a", text);
    const first = engine.tryAppendNow("/a", body("one"), text);
    expect(first?.durable).toBeUndefined();
    expect(first?.result).toEqual({
      kind: "appended",
      offset: "0000000000000000_0000000000000003",
      closed: false,
    });
    const second = await engine.append("/a", body("two"), text);
    expect(second).toEqual({ kind: "appended", offset: "0000000000000000_0000000000000006", closed: false });
    expect(await texts(engine, "/a")).toEqual(["one", "two"]);
  });

  it("never overtakes an append already under way on the stream", async () => {
    const engine = memoryEngine();
    await engine.create("/b", text);
    const queued = engine.append("/b", body("first"), text);
    expect(engine.tryAppendNow("/b", body("second"), text)).toBeUndefined();
    await queued;
    expect(engine.tryAppendNow("/b", body("second"), text)?.result.kind).toBe("appended");
    expect(await texts(engine, "/b")).toEqual(["first", "second"]);
  });

  it("throws the protocol's refusals as the queued path does, and leaves the stream unchanged", async () => {
    const engine = memoryEngine();
    await engine.create("/c", text);
    expect(() => engine.tryAppendNow("/c", body("{}"), { contentType: "application/json" })).toThrow(
      StreamError,
    );
    const producer = { id: "p", epoch: 0, seq: 1 };
    expect(() => engine.tryAppendNow("/c", body("x"), { ...text, producer })).toThrow(/sequence/i);
    expect(await texts(engine, "/c")).toEqual([]);
  });

  it("leaves missing and expiring streams to the queued path, which answers 404", async () => {
    let now = 1_000_000;
    const engine = memoryEngine(() => now);
    expect(engine.tryAppendNow("/none", body("x"), text)).toBeUndefined();
    await engine.create("/ttl", { ...text, ttlSeconds: 1 });
    now += 1_000;
    expect(engine.tryAppendNow("/ttl", body("x"), text)).toBeUndefined();
    await expect(engine.append("/ttl", body("x"), text)).rejects.toMatchObject({ status: 404 });
  });

  it("with file storage, shows the append to readers only once it is on disk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ds-engine-"));
    const backend = await FileBackend.open({ dir, fsync: true });
    const engine = new StreamEngine(backend);
    cleanups.push(async () => {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await engine.create("/f", text);
    const now = engine.tryAppendNow("/f", body("durable"), text);
    expect(now?.durable).toBeInstanceOf(Promise);
    expect(await texts(engine, "/f")).toEqual([]);
    await now?.durable;
    expect(await texts(engine, "/f")).toEqual(["durable"]);
  });
});

describe("sliding TTL across a restart of file storage", () => {
  it("counts the restart as an access, so a stream read just before it survives", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ds-ttl-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    let now = 1_000_000;
    const clock = () => now;
    let engine = new StreamEngine(await FileBackend.open({ dir, fsync: false }), clock);
    await engine.create("/t", { ...text, ttlSeconds: 60, initialData: body("kept") });
    now += 50_000;
    await engine.read("/t", ""); // an access 50 s after creation
    await engine.close();
    now += 20_000; // 70 s after creation, 20 s after the last access
    engine = new StreamEngine(await FileBackend.open({ dir, fsync: false }), clock);
    cleanups.push(() => engine.close());
    expect(await texts(engine, "/t")).toEqual(["kept"]);
    now += 61_000;
    await expect(engine.read("/t", "")).rejects.toMatchObject({ status: 404 });
  });
});

describe("access times", () => {
  it("are recorded only for streams with a TTL (Redis would pay a write for each)", async () => {
    const touched: string[] = [];
    class CountingBackend extends MemoryBackend {
      override touch(path: string, at: number): void {
        touched.push(path);
        super.touch(path, at);
      }
    }
    const engine = new StreamEngine(new CountingBackend());
    cleanups.push(() => engine.close());
    await engine.create("/plain", text);
    await engine.create("/ttl", { ...text, ttlSeconds: 60 });
    for (const path of ["/plain", "/ttl"]) {
      await engine.append(path, body("queued"), text);
      engine.tryAppendNow(path, body("now"), text);
      await engine.read(path, "");
    }
    expect(touched.every((path) => path === "/ttl")).toBe(true);
    expect(touched.length).toBeGreaterThanOrEqual(4);
  });
});
