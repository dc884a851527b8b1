import { randomUUID } from "node:crypto";
import { observable } from "@trpc/server/observable";
import { z } from "zod";
import type { ClaudeSessionEvent } from "../../claude/events";
import { publicProcedure, router } from "../trpc";

const sessionId = z.string().trim().min(1).max(200);

export const aiChatRouter = router({
  /** Start or resume a session (resume: pass the claudeSessionId saved from an earlier turn). */
  startSession: publicProcedure
    .input(
      z.object({
        sessionId,
        cwd: z.string().min(1),
        claudeSessionId: z.string().min(1).max(200).optional(),
        previousTotalCostUsd: z.number().nonnegative().finite().optional(),
      }),
    )
    .mutation(({ ctx, input }) => ctx.sessions.startSession(input)),

  /** Queue a turn; its events arrive on streamTokens. Returns the turn id at once. */
  sendMessage: publicProcedure
    .input(
      z.object({
        sessionId,
        content: z.string().trim().min(1).max(200_000),
        turnId: z.string().min(1).max(200).optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      const turnId = input.turnId ?? randomUUID();
      ctx.sessions
        .sendMessage({ sessionId: input.sessionId, content: input.content, turnId })
        .catch((error) => {
          ctx.sessions.logger.error(
            { sessionId: input.sessionId, turnId, err: String(error) },
            "turn failed",
          );
        });
      return { turnId };
    }),

  /** Every event of one session, live (observable, as trpc-electron expects). */
  streamTokens: publicProcedure
    .input(z.object({ sessionId }))
    .subscription(({ ctx, input }) =>
      observable<ClaudeSessionEvent>((emit) =>
        ctx.sessions.subscribe(input.sessionId, (event) => emit.next(event)),
      ),
    ),

  interrupt: publicProcedure
    .input(z.object({ sessionId, turnId: z.string().min(1).optional() }))
    .mutation(({ ctx, input }) => ({ interrupted: ctx.sessions.interrupt(input.sessionId, input.turnId) })),

  pendingApprovals: publicProcedure
    .input(z.object({ sessionId }))
    .query(({ ctx, input }) => ctx.approvals.pending(input.sessionId)),

  answerApproval: publicProcedure
    .input(
      z.object({
        approvalId: z.string().min(1),
        behavior: z.enum(["allow", "deny"]),
        message: z.string().max(2_000).optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      ctx.approvals.answer(
        input.approvalId,
        input.behavior === "allow" ? { behavior: "allow" } : { behavior: "deny", message: input.message },
      );
      return { ok: true };
    }),
});
