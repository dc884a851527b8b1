import {
  archiveSession,
  createSession,
  getSession,
  listSessions,
  renameSession,
} from "../../queries/sessions";
import { participantStreamToken } from "../../queries/streams";
import { protectedProcedure } from "../../trpc";
import { chatInput } from "../../validators";
import { actorOf } from "../actor";

export const sessionProcedures = {
  /** A new session; its creator becomes its owner. */
  createSession: protectedProcedure
    .input(chatInput.createSession)
    .mutation(({ ctx, input }) => createSession(ctx.db, actorOf(ctx), input)),

  listSessions: protectedProcedure
    .input(chatInput.listSessions)
    .query(({ ctx, input }) => listSessions(ctx.db, actorOf(ctx), input)),

  getSession: protectedProcedure
    .input(chatInput.sessionId)
    .query(({ ctx, input }) => getSession(ctx.db, actorOf(ctx), input.sessionId)),

  /** Renames a session (owners). */
  updateSession: protectedProcedure
    .input(chatInput.updateSession)
    .mutation(({ ctx, input }) => renameSession(ctx.db, actorOf(ctx), input)),

  archiveSession: protectedProcedure
    .input(chatInput.sessionId)
    .mutation(({ ctx, input }) => archiveSession(ctx.db, actorOf(ctx), input.sessionId)),

  /** A token to read the session's durable stream and publish presence. */
  getStreamToken: protectedProcedure.input(chatInput.sessionId).query(({ ctx, input }) =>
    participantStreamToken(ctx.db, { ...actorOf(ctx), name: ctx.user.name }, input.sessionId, {
      secret: ctx.streamAuthSecret,
      ttlSeconds: ctx.config.streamTokenTtlSeconds,
      streamUrl: ctx.streamUrl,
    }),
  ),
};
