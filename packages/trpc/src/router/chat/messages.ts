import { getMessages, interruptTurn, saveAssistantMessage, sendMessage } from "../../queries/messages";
import { deviceProcedure, protectedProcedure } from "../../trpc";
import { chatInput } from "../../validators";
import { actorOf } from "../actor";

export const messageProcedures = {
  /** Queues a user message for the session's desktop; runs nothing itself. */
  sendMessage: protectedProcedure
    .input(chatInput.sendMessage)
    .mutation(({ ctx, input }) => sendMessage(ctx.db, actorOf(ctx), input)),

  getMessages: protectedProcedure
    .input(chatInput.getMessages)
    .query(({ ctx, input }) => getMessages(ctx.db, actorOf(ctx), input)),

  /** The desktop's completed answer to a claimed message (idempotent). */
  saveAssistantMessage: deviceProcedure
    .input(chatInput.saveAssistantMessage)
    .mutation(({ ctx, input }) => saveAssistantMessage(ctx.db, ctx.device, input)),

  /** The stop button, from any client of an editor. */
  interrupt: protectedProcedure
    .input(chatInput.interrupt)
    .mutation(({ ctx, input }) => interruptTurn(ctx.db, actorOf(ctx), input)),
};
