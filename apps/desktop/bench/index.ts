import { cpus } from "node:os";
import { claudeLatency } from "./claude-latency";
import { hostLatency } from "./host-latency";
import { type BenchRow, formatTable } from "./stats";

// Each suite returns rows for the one table. Issue #7 adds its suites to this list.
const turns = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: expected a positive integer`);
  return value;
};

const suites: { name: string; run: () => Promise<BenchRow[]> }[] = [
  {
    name: "claude latency",
    run: () =>
      claudeLatency({ coldTurns: turns("BENCH_COLD_TURNS", 50), warmTurns: turns("BENCH_WARM_TURNS", 50) }),
  },
  {
    name: "host end to end",
    run: () =>
      hostLatency({
        coldTurns: turns("BENCH_HOST_COLD_TURNS", 50),
        warmTurns: turns("BENCH_HOST_WARM_TURNS", 50),
      }),
  },
];

const rows: BenchRow[] = [];
for (const suite of suites) {
  process.stderr.write(`running ${suite.name}…\n`);
  rows.push(...(await suite.run()));
}
process.stdout.write(
  `${formatTable(rows)}\n\nNode ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${new Date().toISOString()}\n`,
);
