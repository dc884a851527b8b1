export { type AppRouter, appRouter } from "./root";
export { type ApiDeps, createCallerFactory, createTRPCContext, type TRPCContext } from "./trpc";
