import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BEFORE_ALL } from "../src/protocol/offset";
import { LogFile } from "../src/store/log-file";

const dir = mkdtempSync(path.join(os.tmpdir(), "prof-"));
const log = new LogFile(path.join(dir, "s.log")).open();
const rows = Array.from({ length: 10000 }, (_, i) => ({
  id: String(i),
  title: `row ${i}`,
  n: String(i % 100),
  payload: "x".repeat(100),
}));
let t = performance.now();
const entries = rows.map((row, i) => ({
  offset: { tx: 0n, op: i },
  json: JSON.stringify({
    key: `"public"."big"/"${row.id}"`,
    value: row,
    headers: { operation: "insert", relation: ["public", "big"] },
  }),
}));
console.log("stringify", (performance.now() - t).toFixed(0));
t = performance.now();
for (let i = 0; i < 5; i++) log.append(entries.slice(i * 2000, (i + 1) * 2000));
console.log("append", (performance.now() - t).toFixed(0));
t = performance.now();
const r = log.read(BEFORE_ALL, 10 * 1024 * 1024) as any;
console.log("read", (performance.now() - t).toFixed(0), r.messages.length);
t = performance.now();
const body = `[${r.messages.join(",")}]`;
console.log("join", (performance.now() - t).toFixed(0), body.length);
t = performance.now();
JSON.parse(body);
console.log("parse", (performance.now() - t).toFixed(0));
