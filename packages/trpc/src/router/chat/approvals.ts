import { answerApproval, listApprovals } from "../../queries/approvals";
import { protectedProcedure } from "../../trpc";
import { chatInput } from "../../validators";
import { actorOf } from "../actor";

export const approvalProcedures = {
  listApprovals: protectedProcedure
    .input(chatInput.listApprovals)
    .query(({ ctx, input }) => listApprovals(ctx.db, actorOf(ctx), input)),

  /** First answer wins; a later one gets CONFLICT with `data.details` saying who answered what. */
  answerApproval: protectedProcedure
    .input(chatInput.answerApproval)
    .mutation(({ ctx, input }) => answerApproval(ctx.db, actorOf(ctx), input)),
};
