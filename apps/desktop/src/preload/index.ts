import { exposeElectronTRPC } from "trpc-electron/main";

// Gives the renderer's ipcLink its channel to the main process's tRPC router.
process.once("loaded", () => {
  exposeElectronTRPC();
});
