import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface Workspace {
  name: string;
  dir: string;
  scripts: Record<string, string>;
}

const ORDER = ["packages/", "apps/"];

/** The npm workspaces of the repo, libraries before apps (the order tests run in). */
export function listWorkspaces(): Workspace[] {
  const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8"));
  const dirs = Object.keys(lock.packages as Record<string, unknown>).filter(
    (p) => (p.startsWith("packages/") || p.startsWith("apps/")) && !p.includes("node_modules"),
  );
  return dirs
    .map((dir) => {
      const pkg = JSON.parse(readFileSync(path.join(ROOT, dir, "package.json"), "utf8"));
      return { name: pkg.name as string, dir, scripts: (pkg.scripts ?? {}) as Record<string, string> };
    })
    .sort(
      (a, b) =>
        ORDER.findIndex((p) => a.dir.startsWith(p)) - ORDER.findIndex((p) => b.dir.startsWith(p)) ||
        a.dir.localeCompare(b.dir),
    );
}
