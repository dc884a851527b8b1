import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BEFORE_ALL, formatOffset, parseOffset } from "../protocol/offset";
import { LogFile } from "./log-file";

const dir = mkdtempSync(path.join(os.tmpdir(), "sync-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entry = (tx: number, op: number) => ({
  offset: { tx: BigInt(tx), op },
  json: JSON.stringify({ tx, op, s: "é".repeat(op) }),
});

describe("LogFile", () => {
  it("reads the entries after an offset, across index points, and resumes after reopening", () => {
    const file = path.join(dir, "a.jsonl");
    const log = new LogFile(file).open();
    for (let tx = 1; tx <= 300; tx++) log.append([entry(tx, 1), entry(tx, 2)]);
    expect(log.read(BEFORE_ALL, 1e9).messages).toHaveLength(600);
    const after = log.read(parseOffset("150_1"), 1e9);
    expect(JSON.parse(after.messages[0] ?? "{}")).toMatchObject({ tx: 150, op: 2 });
    expect(after.messages).toHaveLength(301);
    expect(after.last && formatOffset(after.last)).toBe("300_2");
    expect(log.read(parseOffset("150_0"), 1e9).messages).toHaveLength(302);
    log.close();

    const reopened = new LogFile(file).open();
    expect(reopened.last && formatOffset(reopened.last)).toBe("300_2");
    const tail = reopened.read(parseOffset("299_2"), 1e9);
    expect(tail.messages.map((m) => JSON.parse(m))).toMatchObject([
      { tx: 300, op: 1 },
      { tx: 300, op: 2 },
    ]);
    reopened.close();
  });

  it("stops at the byte limit and says there is more", () => {
    const log = new LogFile(path.join(dir, "b.jsonl")).open();
    for (let tx = 1; tx <= 50; tx++) log.append([entry(tx, 1)]);
    const first = log.read(BEFORE_ALL, 200);
    expect(first.more).toBe(true);
    expect(first.messages.length).toBeGreaterThan(0);
    expect(first.messages.length).toBeLessThan(50);
    const rest = log.read(first.last ?? BEFORE_ALL, 1e9);
    expect(first.messages.length + rest.messages.length).toBe(50);
    log.close();
  });

  it("cuts a torn last line left by a crash", () => {
    const file = path.join(dir, "c.jsonl");
    const log = new LogFile(file).open();
    log.append([entry(1, 1), entry(2, 1)]);
    log.close();
    appendFileSync(file, '3_1 {"half');
    const reopened = new LogFile(file).open();
    expect(reopened.last && formatOffset(reopened.last)).toBe("2_1");
    reopened.append([entry(3, 1)]);
    expect(reopened.read(BEFORE_ALL, 1e9).messages.map((m) => JSON.parse(m).tx)).toEqual([1, 2, 3]);
    reopened.close();
  });
});
