import { readFileSync } from "node:fs";

/**
 * Prints the heaviest frames of a V8 .cpuprofile by self time:
 * `node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx src/index.ts` while the bench runs, then
 * `npx tsx bench/cpuprofile-top.ts /tmp/prof/<file>.cpuprofile [rows]`.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: tsx bench/cpuprofile-top.ts <file.cpuprofile> [rows]\n");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const selfTime = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const frame = nodes.get(id)?.callFrame;
  if (!frame) return;
  const url = frame.url.replace(/.*node_modules\//, "").replace(/.*stream-server\//, "");
  const key = `${frame.functionName || "(anonymous)"} ${url}:${frame.lineNumber}`;
  const dt = profile.timeDeltas[i] ?? 0;
  selfTime.set(key, (selfTime.get(key) ?? 0) + dt);
  total += dt;
});
const rows = [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, Number(rowsArg ?? 40));
for (const [key, us] of rows) {
  process.stdout.write(
    `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}\n`,
  );
}
process.stdout.write(`total ${(total / 1000).toFixed(0)} ms\n`);
