import { afterEach, describe, expect, it } from "vitest";
import { formatOffset } from "../protocol/offset";
import { MemoryBackend } from "../store/memory";
import { StreamEngine } from "./engine";
import type { SseFrame, SseSink } from "./fanout";

class RecordingSink implements SseSink {
  frames: SseFrame[] = [];
  ended = false;
  backlog = 0;

  write(frame: SseFrame): void {
    this.frames.push(frame);
  }

  end(): void {
    this.ended = true;
  }

  get text(): string {
    return this.frames.map((frame) => frame.bytes.toString("utf8")).join("");
  }
}

const engines: StreamEngine[] = [];

async function setup(path = "/s", contentType = "text/plain") {
  const engine = new StreamEngine(new MemoryBackend());
  engines.push(engine);
  await engine.create(path, { contentType });
  return engine;
}

function join(engine: StreamEngine, sink: SseSink, position: string, path = "/s") {
  return engine.fanout.join(path, {
    sink,
    position,
    clientCursor: undefined,
    deadline: Date.now() + 60_000,
    keepAliveMs: 60_000,
  });
}

/** Lets queued fan-out flushes run (they are microtasks and awaited reads). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

describe("fan-out of live SSE", () => {
  it("writes the very same encoded frame to every subscriber at the same position", async () => {
    const engine = await setup();
    const sinks = Array.from({ length: 50 }, () => new RecordingSink());
    for (const sink of sinks) join(engine, sink, formatOffset(0));
    await settle();
    await engine.append("/s", Buffer.from("hello"), { contentType: "text/plain" });
    await settle();
    const first = sinks[0]?.frames[0];
    expect(first).toBeDefined();
    for (const sink of sinks) {
      expect(sink.frames).toHaveLength(1);
      expect(sink.frames[0]).toBe(first);
    }
    expect(first?.bytes.toString()).toMatch(
      /^event: data\ndata:hello\n\nevent: control\ndata:\{"streamNextOffset":"0000000000000000_0000000000000005","streamCursor":"\d+","upToDate":true\}\n\n$/,
    );
    expect(first?.chunk.toString()).toBe(`${first?.bytes.byteLength.toString(16)}\r\n${first?.bytes}\r\n`);
  });

  it("sends each subscriber exactly the messages after its own offset, in data + control pairs", async () => {
    const engine = await setup();
    await engine.append("/s", Buffer.from("a"), {});
    const behind = new RecordingSink();
    const atTail = new RecordingSink();
    join(engine, behind, formatOffset(0));
    join(engine, atTail, formatOffset(1));
    await settle();
    await engine.append("/s", Buffer.from("b"), {});
    await settle();
    expect(behind.text.match(/^event: data$/gm)).toHaveLength(2);
    expect(behind.text).toContain("data:a\n");
    expect(behind.text).toContain("data:b\n");
    expect(atTail.text.match(/^event: data$/gm)).toHaveLength(1);
    expect(atTail.text).toContain("data:b\n");
    expect(atTail.text).not.toContain("data:a\n");
    // Every data event is followed by its control event.
    expect(behind.text.match(/event: data\ndata:[^\n]*\n\nevent: control\n/g)).toHaveLength(2);
  });

  it("delivers a change that landed before the subscriber joined (no lost wake-up)", async () => {
    const engine = await setup();
    const sink = new RecordingSink();
    await engine.append("/s", Buffer.from("early"), {});
    join(engine, sink, formatOffset(0));
    await settle();
    expect(sink.text).toContain("data:early\n");
  });

  it("wraps JSON messages in an array and base64-encodes binary streams", async () => {
    const engine = await setup("/j", "application/json");
    await engine.create("/b", { contentType: "application/octet-stream" });
    const json = new RecordingSink();
    const binary = new RecordingSink();
    join(engine, json, formatOffset(0), "/j");
    join(engine, binary, formatOffset(0), "/b");
    await settle();
    await engine.append("/j", Buffer.from('{"x":1}'), { contentType: "application/json" });
    await engine.append("/b", Buffer.from([0, 255]), {});
    await settle();
    expect(json.text).toContain('data:[{"x":1}]\n');
    expect(binary.text).toContain(`data:${Buffer.from([0, 255]).toString("base64")}\n`);
  });

  it("ends subscribers with a streamClosed control event when the stream is closed", async () => {
    const engine = await setup();
    const sink = new RecordingSink();
    const { ended } = join(engine, sink, formatOffset(0));
    await settle();
    await engine.append("/s", new Uint8Array(0), { close: true });
    await ended;
    expect(sink.ended).toBe(true);
    expect(sink.text).toContain('"streamClosed":true');
    expect(engine.fanout.size).toBe(0);
  });

  it("ends subscribers when the stream is deleted", async () => {
    const engine = await setup();
    const sink = new RecordingSink();
    const { ended } = join(engine, sink, formatOffset(0));
    await settle();
    await engine.delete("/s");
    await ended;
    expect(sink.ended).toBe(true);
    expect(engine.fanout.size).toBe(0);
  });

  it("cuts off a subscriber that stopped reading once its backlog passes the limit", async () => {
    const engine = await setup();
    const slow = new RecordingSink();
    const fast = new RecordingSink();
    slow.backlog = 64 * 1024 * 1024;
    const { ended } = join(engine, slow, formatOffset(0));
    join(engine, fast, formatOffset(0));
    await settle();
    await engine.append("/s", Buffer.from("x"), {});
    await ended;
    expect(slow.ended).toBe(true);
    expect(fast.ended).toBe(false);
    expect(engine.fanout.size).toBe(1);
  });

  it("sends idle subscribers a keep-alive control event, and leave() stops delivery", async () => {
    const engine = await setup();
    const sink = new RecordingSink();
    const subscription = engine.fanout.join("/s", {
      sink,
      position: formatOffset(0),
      clientCursor: undefined,
      deadline: Date.now() + 60_000,
      keepAliveMs: 20,
    });
    while (!sink.text.includes("event: control")) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sink.text).toContain('"upToDate":true');
    subscription.leave();
    await subscription.ended;
    const before = sink.frames.length;
    await engine.append("/s", Buffer.from("late"), {});
    await settle();
    expect(sink.frames).toHaveLength(before);
    expect(sink.ended).toBe(false);
  });

  it("ends every subscriber at shutdown", async () => {
    const engine = await setup();
    const sinks = [new RecordingSink(), new RecordingSink()];
    const subscriptions = sinks.map((sink) => join(engine, sink, formatOffset(0)));
    engine.fanout.endAll();
    await Promise.all(subscriptions.map((s) => s.ended));
    expect(sinks.every((sink) => sink.ended)).toBe(true);
  });
});
