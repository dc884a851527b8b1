import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chatMessages } from "@superset/db/schema";
import { createStreamTokenVerifier } from "@superset/stream-tokens";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseApiEnv } from "~/env";
import { claimedMessage, manualSweeper, STREAM_SECRET, startTestApi, type TestApi } from "./support/server";

/** A stand-in stream server on loopback: records every request and answers with the next queued status. */
interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let api: TestApi;
let server: Server;
let streamUrl: string;
const requests: Recorded[] = [];
const answers: number[] = [];

beforeAll(async () => {
  api = await startTestApi({ maxClaims: 1 });
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.statusCode = answers.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  streamUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await api?.close();
});

let users = 0;
/** A user's message claimed by their desktop (its only claim: maxClaims is 1), its lease already lapsed. */
async function lapsedClaim(options: { interrupt?: boolean } = {}) {
  users += 1;
  const { message, session } = await claimedMessage(api, `User ${users}`, `user${users}@example.com`);
  if (options.interrupt) {
    await api.db
      .update(chatMessages)
      .set({ interruptRequestedAt: sql`now()` })
      .where(eq(chatMessages.id, message.id));
  }
  await api.db
    .update(chatMessages)
    .set({ leaseExpiresAt: sql`now() - interval '1 second'` })
    .where(eq(chatMessages.id, message.id));
  return { message, session };
}

const rowOf = async (id: string) =>
  (await api.db.select().from(chatMessages).where(eq(chatMessages.id, id)))[0];

const sweeperFor = (url: string) => manualSweeper(api, 1, url);

describe("turn ends written by the sweeper", () => {
  it("appends turn_error and turn_saved(failed) with an append token and idempotent producer headers", async () => {
    requests.length = 0;
    const { message, session } = await lapsedClaim();
    const sweeper = sweeperFor(streamUrl);
    try {
      await sweeper.sweep();
      const row = await rowOf(message.id);
      expect(row?.status).toBe("failed");
      expect(row?.streamEndPendingAt).toBeNull();

      expect(requests).toHaveLength(1);
      const [append] = requests;
      expect(append?.method).toBe("POST");
      expect(append?.url).toBe(`/streams/${session.id}`);
      expect(append?.headers["content-type"]).toBe("application/json");
      expect(append?.headers["producer-id"]).toBe(`api-sweeper-${message.id}`);
      expect(append?.headers["producer-epoch"]).toBe("0");
      expect(append?.headers["producer-seq"]).toBe("0");
      const token = append?.headers.authorization?.replace(/^Bearer /, "") ?? "";
      const claims = await createStreamTokenVerifier({ secret: STREAM_SECRET })(token);
      expect(claims).toMatchObject({
        userId: message.createdById,
        organizationId: session.organizationId,
        sessionId: session.id,
        rights: ["append"],
      });

      const events = JSON.parse(append?.body ?? "[]");
      expect(events).toMatchObject([
        {
          type: "turn_error",
          sessionId: session.id,
          turnId: message.id,
          status: "error",
          reason: "No desktop finished this turn: its lease expired 1 times",
          leaseExpired: true,
          writtenBy: "api",
          text: "",
          toolCalls: [],
          usage: { inputTokens: 0, outputTokens: 0 },
        },
        { type: "turn_saved", turnId: message.id, messageStatus: "failed", assistantMessageId: null },
      ]);
      expect(events[0].abandoned).toBeUndefined();

      // Written once: the next sweep has nothing to do.
      await sweeper.sweep();
      expect(requests).toHaveLength(1);
    } finally {
      sweeper.stop();
    }
  });

  it("ends an interrupted turn with turn_interrupted and turn_saved(interrupted)", async () => {
    requests.length = 0;
    const { message } = await lapsedClaim({ interrupt: true });
    const sweeper = sweeperFor(streamUrl);
    try {
      await sweeper.sweep();
      expect((await rowOf(message.id))?.status).toBe("interrupted");
      expect(JSON.parse(requests[0]?.body ?? "[]")).toMatchObject([
        { type: "turn_interrupted", turnId: message.id, status: "interrupted", leaseExpired: true },
        { type: "turn_saved", turnId: message.id, messageStatus: "interrupted" },
      ]);
    } finally {
      sweeper.stop();
    }
  });

  it("keeps the mark when the stream server answers 503 or is unreachable, and writes on a later sweep", async () => {
    requests.length = 0;
    const { message } = await lapsedClaim();
    const sweeper = sweeperFor(streamUrl);
    try {
      answers.push(503);
      await sweeper.sweep();
      expect((await rowOf(message.id))?.streamEndPendingAt).toBeInstanceOf(Date);
      expect(requests).toHaveLength(1);

      // Nothing listens on port 9.
      const down = sweeperFor("http://127.0.0.1:9");
      try {
        await down.sweep();
      } finally {
        down.stop();
      }
      expect((await rowOf(message.id))?.streamEndPendingAt).toBeInstanceOf(Date);

      await sweeper.sweep();
      expect((await rowOf(message.id))?.streamEndPendingAt).toBeNull();
      expect(requests).toHaveLength(2);
      // The retry is the same producer write: the stream server stores it once.
      expect(requests[1]?.headers["producer-id"]).toBe(requests[0]?.headers["producer-id"]);
      expect(requests[1]?.headers["producer-seq"]).toBe("0");
      expect(requests[1]?.body.replace(/"at":\d+/g, "")).toBe(requests[0]?.body.replace(/"at":\d+/g, ""));
    } finally {
      sweeper.stop();
    }
  });

  it("clears the mark when the session has no stream (404)", async () => {
    requests.length = 0;
    const { message } = await lapsedClaim();
    const sweeper = sweeperFor(streamUrl);
    try {
      answers.push(404);
      await sweeper.sweep();
      expect(requests).toHaveLength(1);
      const row = await rowOf(message.id);
      expect(row?.status).toBe("failed");
      expect(row?.streamEndPendingAt).toBeNull();
    } finally {
      sweeper.stop();
    }
  });

  it("marks nothing when an expired lease only sends the message back to the queue", async () => {
    requests.length = 0;
    const { message } = await lapsedClaim();
    // One more claim allowed: the expiry requeues instead of ending the turn.
    const sweeper = manualSweeper(api, 2, streamUrl);
    try {
      await sweeper.sweep();
      const row = await rowOf(message.id);
      expect(row?.status).toBe("pending");
      expect(row?.streamEndPendingAt).toBeNull();
      expect(requests).toHaveLength(0);
    } finally {
      sweeper.stop();
    }
  });
});

describe("the sweeper's stream server URL", () => {
  const base = { DATABASE_URL: "postgres://u:p@127.0.0.1:5432/db" };
  it("is DURABLE_STREAM_INTERNAL_URL, else DURABLE_STREAM_URL", () => {
    expect(
      parseApiEnv({ ...base, DURABLE_STREAM_URL: "http://public:8080" }).DURABLE_STREAM_INTERNAL_URL,
    ).toBe("http://public:8080");
    expect(
      parseApiEnv({
        ...base,
        DURABLE_STREAM_URL: "http://public:8080",
        DURABLE_STREAM_INTERNAL_URL: "http://stream.internal:8080",
      }).DURABLE_STREAM_INTERNAL_URL,
    ).toBe("http://stream.internal:8080");
    expect(() => parseApiEnv({ ...base, DURABLE_STREAM_INTERNAL_URL: "not a url" })).toThrow(
      /DURABLE_STREAM_INTERNAL_URL/,
    );
  });
});
