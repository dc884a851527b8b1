import { chatRouter } from "./router/chat";
import { deviceRouter } from "./router/device";
import { meRouter } from "./router/me";
import { createTRPCRouter } from "./trpc";

export const appRouter = createTRPCRouter({
  me: meRouter,
  chat: chatRouter,
  device: deviceRouter,
});

export type AppRouter = typeof appRouter;
