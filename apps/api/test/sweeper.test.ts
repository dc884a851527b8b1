import { chatApprovals, chatMessages } from "@superset/db/schema";
import { createApiClient } from "@superset/trpc/client";
import { eq, sql } from "drizzle-orm";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSweeper } from "~/lib/sweeper";
import { STREAM_SECRET, signIn, signUp, startTestApi, type TestApi } from "./support/server";

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ maxClaims: 2 });
});
afterAll(() => api?.close());

describe("lease sweeper", () => {
  it("requeues lapsed claims, fails them after the last claim, and expires overdue approvals", async () => {
    await signUp(api.url, "Sam", "sam@example.com");
    const { bearer } = await signIn(api.url, "sam@example.com");
    const user = createApiClient({ url: api.url, bearer });
    const { deviceToken } = await user.device.register.mutate({ name: "D", workspaceIds: ["ws"] });
    const desktop = createApiClient({ url: api.url, deviceToken });
    const session = await user.chat.createSession.mutate({ workspaceId: "ws" });
    const message = await user.chat.sendMessage.mutate({ sessionId: session.id, content: "x" });
    await desktop.device.claimNext.mutate({});
    const approval = await desktop.device.requestApproval.mutate({
      messageId: message.id,
      toolUseId: "t",
      toolName: "Bash",
      toolInput: {},
      timeoutMs: 60_000,
    });

    // An interval far longer than the test: only the explicit sweeps below run.
    const sweeper = startSweeper({
      db: api.db,
      maxClaims: 2,
      intervalMs: 3_600_000,
      logger: pino({ level: "silent" }),
      // Nothing listens on port 9: no turn end is marked before the last check below.
      stream: { url: "http://127.0.0.1:9", authSecret: STREAM_SECRET },
    });
    try {
      const lapse = () =>
        api.db
          .update(chatMessages)
          .set({ leaseExpiresAt: sql`now() - interval '1 second'` })
          .where(eq(chatMessages.id, message.id));
      const statusOf = async () =>
        (await api.db.select().from(chatMessages).where(eq(chatMessages.id, message.id)))[0]?.status;

      await lapse();
      await sweeper.sweep();
      expect(await statusOf()).toBe("pending");
      const [expired] = await api.db.select().from(chatApprovals).where(eq(chatApprovals.id, approval.id));
      expect(expired?.status).toBe("expired");

      await desktop.device.claimNext.mutate({});
      await lapse();
      await sweeper.sweep();
      expect(await statusOf()).toBe("failed");
    } finally {
      sweeper.stop();
    }
  });
});
