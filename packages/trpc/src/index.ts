export { type ChatConfig, DEFAULT_CHAT_CONFIG } from "./config";
export { ChatError } from "./errors";
export { expireApprovals, expireLeases } from "./queries/claims";
export { DEVICE_TOKEN_HEADER } from "./queries/devices";
export { streamPath } from "./queries/streams";
export { type AppRouter, appRouter } from "./root";
export { type ApiDeps, createCallerFactory, createTRPCContext, type TRPCContext } from "./trpc";
export { LIMITS } from "./validators";
