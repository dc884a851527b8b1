import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The real server as a child process (`tsx src/index.ts`), for kill -9 and env tests. */
export interface ChildServer {
  url: string;
  child: ChildProcess;
}

const entry = fileURLToPath(new URL("../../src/index.ts", import.meta.url));
const appDir = fileURLToPath(new URL("../../", import.meta.url));

export function spawnServer(env: Record<string, string>): ChildProcess {
  // `node --import tsx` (not the tsx binary) so that the pid we signal is the server itself.
  return spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export async function startChildServer(env: Record<string, string>): Promise<ChildServer> {
  const child = spawnServer(env);
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 20_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = out.match(/"port":(\d+)[^\n]*stream server listening/);
      if (match) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${match[1]}`);
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${out}`));
    });
  });
  return { url, child };
}

export function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}
