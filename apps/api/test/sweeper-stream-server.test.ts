import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { chatMessages } from "@superset/db/schema";
import { mintStreamToken } from "@superset/stream-tokens";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/electric";
import { claimedMessage, manualSweeper, STREAM_SECRET, startTestApi, type TestApi } from "./support/server";

/** The real stream server (apps/stream-server) as a child process on loopback, memory storage. */
let api: TestApi;
let streamServer: ChildProcess | undefined;
let streamUrl: string;

beforeAll(async () => {
  api = await startTestApi({ maxClaims: 1 });
  const port = await freePort();
  const root = join(import.meta.dirname, "../../..");
  let output = "";
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "apps/stream-server/src/index.ts")], {
    cwd: root,
    env: {
      NODE_ENV: "test",
      PATH: process.env.PATH ?? "",
      PORT: String(port),
      HOST: "127.0.0.1",
      STREAM_STORAGE: "memory",
      STREAM_AUTH_SECRET: STREAM_SECRET,
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  streamServer = child;
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  streamUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 45_000;
  while (
    !(await fetch(`${streamUrl}/health`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null) throw new Error(`stream server exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`stream server did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});
afterAll(async () => {
  const child = streamServer;
  if (child && child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill("SIGTERM");
    });
  }
  await api?.close();
});

describe("turn ends on the real stream server", () => {
  it("appends the end once, even when a crash left the mark after the append", async () => {
    const { session, message } = await claimedMessage(api, "Rae", "rae@example.com");

    const token = async (rights: ("read" | "append")[]) =>
      (
        await mintStreamToken(
          {
            userId: message.createdById,
            organizationId: session.organizationId,
            sessionId: session.id,
            rights,
          },
          { secret: STREAM_SECRET },
        )
      ).token;
    const url = `${streamUrl}/streams/${session.id}`;
    // The host created the stream on its claim.
    const created = await fetch(url, {
      method: "PUT",
      headers: { authorization: `Bearer ${await token(["append"])}`, "content-type": "application/json" },
    });
    expect(created.status).toBe(201);
    const read = async () => {
      const response = await fetch(`${url}?offset=-1`, {
        headers: { authorization: `Bearer ${await token(["read"])}` },
      });
      expect(response.status).toBe(200);
      return (await response.json()) as Record<string, unknown>[];
    };

    await api.db
      .update(chatMessages)
      .set({ leaseExpiresAt: sql`now() - interval '1 second'` })
      .where(eq(chatMessages.id, message.id));
    const sweeper = manualSweeper(api, 1, streamUrl);
    try {
      await sweeper.sweep();
      const events = await read();
      expect(events).toMatchObject([
        {
          type: "turn_error",
          turnId: message.id,
          reason: "No desktop finished this turn: its lease expired 1 times",
          leaseExpired: true,
        },
        { type: "turn_saved", turnId: message.id, messageStatus: "failed" },
      ]);

      // As if the API crashed between the append and clearing the mark: the retry is a duplicate.
      await api.db
        .update(chatMessages)
        .set({ streamEndPendingAt: sql`now()` })
        .where(eq(chatMessages.id, message.id));
      await sweeper.sweep();
      const [row] = await api.db.select().from(chatMessages).where(eq(chatMessages.id, message.id));
      expect(row?.streamEndPendingAt).toBeNull();
      expect(await read()).toHaveLength(2);
    } finally {
      sweeper.stop();
    }
  });
});
