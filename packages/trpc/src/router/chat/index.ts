import { createTRPCRouter } from "../../trpc";
import { approvalProcedures } from "./approvals";
import { messageProcedures } from "./messages";
import { participantProcedures } from "./participants";
import { sessionProcedures } from "./sessions";

/**
 * The chat API any client drives: sessions, messages, participants and roles,
 * interrupts, approvals, stream tokens. Session roles: viewers read; editors
 * send, interrupt and answer approvals; owners also manage participants,
 * rename and archive. `saveAssistantMessage` is the desktop's (device credential).
 */
export const chatRouter = createTRPCRouter({
  ...sessionProcedures,
  ...messageProcedures,
  ...participantProcedures,
  ...approvalProcedures,
});
