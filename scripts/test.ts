/**
 * `npm test`: starts one Postgres for every workspace (embedded unless
 * DATABASE_URL is set), runs each workspace's tests in turn, stops what it
 * started and ends with a "N passed, N failed" line.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { prepareTestPostgres } from "@superset/db/test-setup";
import { TEST_PG_URL_ENV } from "@superset/db/testing";
import { ensureSystemPackages } from "./lib/system";
import { listWorkspaces } from "./lib/workspaces";

interface Outcome {
  name: string;
  passed: number;
  failed: number;
  skipped: number;
  exitCode: number;
}

function runWorkspaceTests(name: string, env: NodeJS.ProcessEnv, reportFile: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(
      "npm",
      [
        "run",
        "test",
        "-w",
        name,
        "--",
        "--reporter=default",
        "--reporter=json",
        `--outputFile.json=${reportFile}`,
      ],
      { stdio: "inherit", env },
    );
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

function readCounts(reportFile: string): { passed: number; failed: number; skipped: number } {
  try {
    const report = JSON.parse(readFileSync(reportFile, "utf8"));
    return {
      passed: report.numPassedTests ?? 0,
      failed: report.numFailedTests ?? 0,
      skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
    };
  } catch {
    return { passed: 0, failed: 0, skipped: 0 };
  }
}

async function main() {
  const only = process.argv.slice(2);
  ensureSystemPackages({ "redis-server": "redis-server" });
  const workspaces = listWorkspaces().filter(
    (w) => w.scripts.test && (only.length === 0 || only.includes(w.name)),
  );
  process.stdout.write("Starting Postgres for the tests…\n");
  const pg = await prepareTestPostgres();
  const reports = mkdtempSync(path.join(os.tmpdir(), "superset-test-reports-"));
  const outcomes: Outcome[] = [];
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await pg.stop().catch(() => {});
    rmSync(reports, { recursive: true, force: true });
  };
  process.on("SIGINT", () => void stop().then(() => process.exit(130)));
  process.on("SIGTERM", () => void stop().then(() => process.exit(143)));
  try {
    const env = { ...process.env, [TEST_PG_URL_ENV]: pg.url, NEXT_TELEMETRY_DISABLED: "1" };
    for (const workspace of workspaces) {
      process.stdout.write(`\n━━ ${workspace.name} ━━\n`);
      const reportFile = path.join(reports, `${workspace.name.replace(/\W+/g, "_")}.json`);
      const exitCode = await runWorkspaceTests(workspace.name, env, reportFile);
      outcomes.push({ name: workspace.name, exitCode, ...readCounts(reportFile) });
    }
  } finally {
    await stop();
  }
  process.stdout.write("\nSummary\n");
  for (const o of outcomes) {
    const state = o.exitCode === 0 ? "ok  " : "FAIL";
    process.stdout.write(
      `  ${state} ${o.name}: ${o.passed} passed, ${o.failed} failed, ${o.skipped} skipped\n`,
    );
  }
  const passed = outcomes.reduce((n, o) => n + o.passed, 0);
  const failed = outcomes.reduce((n, o) => n + o.failed, 0);
  const skipped = outcomes.reduce((n, o) => n + o.skipped, 0);
  const broken = outcomes.filter((o) => o.exitCode !== 0);
  // A workspace that failed outside any test (setup, import) still fails the run.
  const failedTotal = failed + (broken.length > 0 && failed === 0 ? broken.length : 0);
  process.stdout.write(`${passed} passed, ${failedTotal} failed, ${skipped} skipped\n`);
  process.exit(broken.length > 0 ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
