import { router } from "../trpc";
import { aiChatRouter } from "./ai-chat";

export const appRouter = router({
  aiChat: aiChatRouter,
});

export type AppRouter = typeof appRouter;
