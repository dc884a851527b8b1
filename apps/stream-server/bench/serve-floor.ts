import type { Server } from "node:net";

/**
 * Starts a floor server on a free loopback port, prints `READY <url>` for the bench, and on SIGTERM
 * ends its open subscribers and exits.
 */
export function serveFloor(server: Server, endSubscribers: () => void): void {
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    process.stdout.write(`READY http://127.0.0.1:${port}\n`);
  });
  process.on("SIGTERM", () => {
    endSubscribers();
    server.close(() => process.exit(0));
  });
}
