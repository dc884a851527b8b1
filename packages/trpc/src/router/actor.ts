import type { Actor } from "../queries/db";

/** The acting member of a protected procedure's context. */
export const actorOf = (ctx: { user: { id: string }; organizationId: string }): Actor => ({
  userId: ctx.user.id,
  organizationId: ctx.organizationId,
});
