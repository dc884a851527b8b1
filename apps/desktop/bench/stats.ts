/** One line of the bench table. Suites return rows; bench/index.ts prints them all. */
export interface BenchRow {
  suite: string;
  case: string;
  samples: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  unit: string;
  note?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN;
}

export function row(suite: string, name: string, samples: number[], unit = "ms", note?: string): BenchRow {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    suite,
    case: name,
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
    unit,
    ...(note ? { note } : {}),
  };
}

export function formatTable(rows: BenchRow[]): string {
  const fmt = (n: number) => (Number.isNaN(n) ? "-" : n.toFixed(1));
  const lines = [
    "| suite | case | n | p50 | p99 | min | max | unit | note |",
    "| --- | --- | --: | --: | --: | --: | --: | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.suite} | ${r.case} | ${r.samples} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.min)} | ${fmt(r.max)} | ${r.unit} | ${r.note ?? ""} |`,
    ),
  ];
  return lines.join("\n");
}
