import { chatApprovals, chatMessages } from "@superset/db/schema";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimedMessage, manualSweeper, startTestApi, type TestApi } from "./support/server";

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ maxClaims: 2 });
});
afterAll(() => api?.close());

describe("lease sweeper", () => {
  it("requeues lapsed claims, fails them after the last claim, and expires overdue approvals", async () => {
    const { desktop, message } = await claimedMessage(api, "Sam", "sam@example.com");
    const approval = await desktop.device.requestApproval.mutate({
      messageId: message.id,
      toolUseId: "t",
      toolName: "Bash",
      toolInput: {},
      timeoutMs: 60_000,
    });

    // An interval far longer than the test: only the explicit sweeps below run.
    // Nothing listens on port 9: no turn end is marked before the last check below.
    const sweeper = manualSweeper(api, 2, "http://127.0.0.1:9");
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
