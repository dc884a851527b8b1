import { createTRPCRouter, protectedProcedure } from "../trpc";

export const meRouter = createTRPCRouter({
  /** Who is signed in, and in which organization. */
  get: protectedProcedure.query(({ ctx }) => ({
    user: ctx.user,
    organizationId: ctx.organizationId,
    memberRole: ctx.memberRole,
  })),
});
