import { spawnSync } from "node:child_process";

function onPath(binary: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${binary}`], { stdio: "ignore" }).status === 0;
}

/**
 * Makes sure Debian packages the tests need are installed (binary → package).
 * On a machine where we are not root, a missing one is reported instead.
 */
export function ensureSystemPackages(packages: Record<string, string>): void {
  const missing = Object.entries(packages).filter(([binary]) => !onPath(binary));
  if (missing.length === 0) return;
  const names = missing.map(([, pkg]) => pkg);
  if (process.getuid?.() !== 0) {
    throw new Error(
      `Missing system packages: ${names.join(", ")}. Install them with apt-get install ${names.join(" ")}`,
    );
  }
  process.stdout.write(`Installing system packages: ${names.join(", ")}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  const result = spawnSync("apt-get", ["install", "-y", "-qq", ...names], { stdio: "inherit", env });
  if (result.status !== 0) throw new Error(`apt-get install ${names.join(" ")} failed`);
}
