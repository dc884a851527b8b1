import { ClaudeSessionManager } from "../../src/main/lib/claude/session-manager";
import { memoryLogger } from "./harness";

/**
 * Run as its own process by the orphan test: a manager that records its processes in a file starts a
 * turn whose reply streams slowly, prints `STREAMING <claude pid>` once tokens flow, and waits to be
 * killed. (An idle Claude Code process exits by itself when its stdin closes; one in the middle of a
 * turn goes on with the turn.)
 */
const { env, cwd, file } = JSON.parse(process.env.ORPHAN_MAKER ?? "{}") as {
  env: Record<string, string>;
  cwd: string;
  file: string;
};
const sessions = new ClaudeSessionManager({
  env,
  model: "claude-fake-1",
  logger: memoryLogger().logger,
  processRegistryFile: file,
});
sessions.startSession({ sessionId: "orphan", cwd });
let announced = false;
sessions.subscribe("orphan", (event) => {
  if (announced || event.type !== "stream_event") return;
  announced = true;
  process.stdout.write(`STREAMING ${sessions.getSession("orphan")?.pid}\n`);
});
void sessions.sendMessage({ sessionId: "orphan", content: "take your time" });
setInterval(() => {}, 60_000);
