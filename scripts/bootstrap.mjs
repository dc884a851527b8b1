// Installs what a fresh clone is missing before `npm start` / `npm test`.
// Plain Node with no dependencies: it runs before node_modules exists.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const lock = path.join(root, "package-lock.json");
const installed = path.join(root, "node_modules", ".package-lock.json");

function run(command, args) {
  process.stdout.write(`› ${command} ${args.join(" ")}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    process.stderr.write(`${command} ${args.join(" ")} failed with exit code ${result.status}\n`);
    process.exit(result.status ?? 1);
  }
}

const stale = !existsSync(installed) || statSync(lock).mtimeMs > statSync(installed).mtimeMs;
if (stale) {
  process.stdout.write("Installing dependencies from package-lock.json (first run takes a few minutes)…\n");
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}
