import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadDesktopEnv } from "../env";
import { createClaudeBackend } from "./lib/claude/backend";
import { createLogger } from "./lib/claude/logger";
import { createDesktopSessions } from "./sessions";

// A terminal chat over the session manager, without Electron: `npm start -w @superset/desktop [-- "prompt"]`.
// Logs go to stderr (pino JSON); the conversation goes to stdout.

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { cwd: { type: "string", default: process.cwd() } },
});

const env = loadDesktopEnv();
const logger = createLogger({ level: env.LOG_LEVEL, destination: process.stderr as never });
const appPath = resolve(fileURLToPath(import.meta.url), "../../..");
const backend = await createClaudeBackend({
  demo: env.SUPERSET_CLAUDE_DEMO,
  location: { isPackaged: false, appPath },
  logger,
});
if (backend.demo) {
  process.stdout.write(
    "Demo model: no Claude credentials were found, so replies come from the built-in demo model, not Claude.\n" +
      "Sign in with Claude Code or set ANTHROPIC_API_KEY to talk to Claude.\n\n",
  );
}

const { approvals, sessions } = createDesktopSessions(env, backend, logger);
const sessionId = randomUUID();
sessions.startSession({ sessionId, cwd: resolve(values.cwd) });

let pendingApproval: string | null = null;
sessions.subscribe(sessionId, (event) => {
  if (
    event.type === "stream_event" &&
    event.parentToolUseId === null &&
    event.event.type === "content_block_delta" &&
    event.event.delta.type === "text_delta"
  ) {
    process.stdout.write(event.event.delta.text);
  } else if (event.type === "approval_requested") {
    pendingApproval = event.approvalId;
    process.stdout.write(`\n[approval] ${event.toolName} ${JSON.stringify(event.input)} — allow? (y/n) `);
  } else if (event.type === "approval_resolved") {
    pendingApproval = null;
    process.stdout.write(`\n[approval] ${event.behavior} (${event.decidedBy})\n`);
  } else if (event.type === "turn_done" || event.type === "turn_error" || event.type === "turn_interrupted") {
    const tail = event.type === "turn_done" ? "" : ` ${event.status}: ${event.reason}`;
    process.stdout.write(
      `\n[${event.usage.inputTokens} in / ${event.usage.outputTokens} out tokens, $${event.costUsd.toFixed(4)}]${tail}\n`,
    );
  }
});

let running: Promise<unknown> | null = null;
const shutdown = async (code: number) => {
  await sessions.close();
  await backend.stop();
  process.exit(code);
};
process.once("SIGTERM", () => void shutdown(0));
process.on("SIGINT", () => {
  if (running) sessions.interrupt(sessionId);
  else void shutdown(0);
});

if (positionals.length > 0) {
  const end = await sessions.sendMessage({ sessionId, content: positionals.join(" ") });
  await shutdown(end.type === "turn_done" ? 0 : 1);
} else {
  const lines = createInterface({ input: process.stdin, terminal: false });
  process.stdout.write("> ");
  for await (const line of lines) {
    if (pendingApproval) {
      approvals.answer(
        pendingApproval,
        /^y(es)?$/i.test(line.trim()) ? { behavior: "allow" } : { behavior: "deny" },
      );
      continue;
    }
    if (!line.trim()) {
      process.stdout.write("> ");
      continue;
    }
    running = sessions.sendMessage({ sessionId, content: line }).finally(() => {
      running = null;
      process.stdout.write("> ");
    });
  }
  await running;
  await shutdown(0);
}
