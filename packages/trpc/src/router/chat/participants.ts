import { addParticipant, listParticipants, removeParticipant, setRole } from "../../queries/participants";
import { protectedProcedure } from "../../trpc";
import { chatInput } from "../../validators";
import { actorOf } from "../actor";

export const participantProcedures = {
  listParticipants: protectedProcedure
    .input(chatInput.sessionId)
    .query(({ ctx, input }) => listParticipants(ctx.db, actorOf(ctx), input.sessionId)),

  /** Owners add a member of the organization, by user id or email. */
  addParticipant: protectedProcedure
    .input(chatInput.addParticipant)
    .mutation(({ ctx, input }) => addParticipant(ctx.db, actorOf(ctx), input)),

  /** Owners remove anyone; anyone may remove themselves; the last owner stays. */
  removeParticipant: protectedProcedure
    .input(chatInput.participant)
    .mutation(({ ctx, input }) => removeParticipant(ctx.db, actorOf(ctx), input)),

  setRole: protectedProcedure
    .input(chatInput.setRole)
    .mutation(({ ctx, input }) => setRole(ctx.db, actorOf(ctx), input)),
};
