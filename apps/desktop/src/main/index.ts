import { join } from "node:path";
import { app, BrowserWindow } from "electron";
import { createIPCHandler } from "trpc-electron/main";
import { loadDesktopEnv } from "../env";
import { createClaudeBackend } from "./lib/claude/backend";
import { createLogger } from "./lib/claude/logger";
import { appRouter } from "./lib/trpc/routers";
import { createDesktopSessions } from "./sessions";

// Electron wiring only: everything it starts is plain Node code, tested without Electron.

const env = loadDesktopEnv();
const logger = createLogger({ level: env.LOG_LEVEL });

async function main(): Promise<void> {
  await app.whenReady();
  const backend = await createClaudeBackend({
    demo: env.SUPERSET_CLAUDE_DEMO,
    location: { isPackaged: app.isPackaged, appPath: app.getAppPath(), resourcesPath: process.resourcesPath },
    logger,
  });
  const { approvals, sessions } = createDesktopSessions(
    env,
    backend,
    logger,
    join(app.getPath("userData"), "claude-processes.json"),
  );

  const window = new BrowserWindow({
    width: 1200,
    height: 800,
    title: backend.demo ? "Superset (demo model)" : "Superset",
    webPreferences: { preload: join(__dirname, "../preload/index.mjs"), sandbox: false },
  });
  createIPCHandler({
    router: appRouter,
    windows: [window],
    createContext: async () => ({ sessions, approvals }),
  });
  if (process.env.ELECTRON_RENDERER_URL) await window.loadURL(process.env.ELECTRON_RENDERER_URL);

  let quitting = false;
  app.on("before-quit", (event) => {
    if (quitting) return;
    quitting = true;
    event.preventDefault();
    void Promise.all([sessions.close(), backend.stop()]).finally(() => app.quit());
  });
  app.on("window-all-closed", () => app.quit());
}

main().catch((error: unknown) => {
  logger.fatal({ err: String(error) }, "desktop failed to start");
  app.exit(1);
});
