import { meRouter } from "./router/me";
import { createTRPCRouter } from "./trpc";

export const appRouter = createTRPCRouter({
  me: meRouter,
});

export type AppRouter = typeof appRouter;
