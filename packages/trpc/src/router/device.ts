import { expireApproval, getApprovalForDevice, requestApproval } from "../queries/approvals";
import {
  claimMessage,
  claimNext,
  expireApprovals,
  expireLeases,
  releaseClaim,
  renewLease,
} from "../queries/claims";
import { heartbeat, listDevices, registerDevice, revokeDevice, setClaudeSessionId } from "../queries/devices";
import { finishTurn } from "../queries/messages";
import { deviceStreamToken } from "../queries/streams";
import { createTRPCRouter, deviceProcedure, protectedProcedure } from "../trpc";
import { deviceInput } from "../validators";
import { actorOf } from "./actor";

/**
 * The desktop host's calls. `register`, `list` and `revoke` are a signed-in
 * user's; everything else authenticates with the device credential
 * (header x-device-token) and acts in the device's organization.
 */
export const deviceRouter = createTRPCRouter({
  /** Returns the device credential once; only its SHA-256 is stored. */
  register: protectedProcedure
    .input(deviceInput.register)
    .mutation(({ ctx, input }) => registerDevice(ctx.db, actorOf(ctx), input)),

  list: protectedProcedure.query(({ ctx }) => listDevices(ctx.db, actorOf(ctx))),

  revoke: protectedProcedure
    .input(deviceInput.deviceId)
    .mutation(({ ctx, input }) =>
      revokeDevice(ctx.db, { ...actorOf(ctx), memberRole: ctx.memberRole }, input.deviceId),
    ),

  heartbeat: deviceProcedure.input(deviceInput.heartbeat).mutation(async ({ ctx, input }) => {
    await expireLeases(ctx.db, ctx.config);
    await expireApprovals(ctx.db);
    return heartbeat(ctx.db, ctx.device, input);
  }),

  /** The oldest message this device may run, claimed; null when there is none. */
  claimNext: deviceProcedure
    .input(deviceInput.claimNext)
    .mutation(({ ctx, input }) =>
      claimNext(ctx.db, ctx.device, { ...ctx.config, sessionId: input.sessionId }),
    ),

  claim: deviceProcedure
    .input(deviceInput.messageId)
    .mutation(({ ctx, input }) =>
      claimMessage(ctx.db, ctx.device, { ...ctx.config, messageId: input.messageId }),
    ),

  renewLease: deviceProcedure
    .input(deviceInput.messageId)
    .mutation(({ ctx, input }) =>
      renewLease(ctx.db, ctx.device, { ...ctx.config, messageId: input.messageId }),
    ),

  release: deviceProcedure
    .input(deviceInput.messageId)
    .mutation(({ ctx, input }) => releaseClaim(ctx.db, ctx.device, input.messageId)),

  /** Ends a claimed turn without an answer (interrupted or failed). */
  finishTurn: deviceProcedure
    .input(deviceInput.finishTurn)
    .mutation(({ ctx, input }) => finishTurn(ctx.db, ctx.device, input)),

  setClaudeSessionId: deviceProcedure
    .input(deviceInput.setClaudeSessionId)
    .mutation(({ ctx, input }) => setClaudeSessionId(ctx.db, ctx.device, input)),

  requestApproval: deviceProcedure
    .input(deviceInput.requestApproval)
    .mutation(({ ctx, input }) => requestApproval(ctx.db, ctx.device, input)),

  getApproval: deviceProcedure
    .input(deviceInput.approvalId)
    .query(({ ctx, input }) => getApprovalForDevice(ctx.db, ctx.device, input.approvalId)),

  expireApproval: deviceProcedure
    .input(deviceInput.approvalId)
    .mutation(({ ctx, input }) => expireApproval(ctx.db, ctx.device, input.approvalId)),

  /** read + presence, and append while this device holds a live claim in the session. */
  getStreamToken: deviceProcedure.input(deviceInput.sessionId).query(({ ctx, input }) =>
    deviceStreamToken(ctx.db, ctx.device, input.sessionId, {
      secret: ctx.streamAuthSecret,
      ttlSeconds: ctx.config.streamTokenTtlSeconds,
      streamUrl: ctx.streamUrl,
    }),
  ),
});
