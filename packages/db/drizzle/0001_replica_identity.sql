-- Tables that sync through logical replication send whole rows on update and delete
-- (chat_messages.content is large and would otherwise arrive missing on updates).
ALTER TABLE "chat_sessions" REPLICA IDENTITY FULL;--> statement-breakpoint
ALTER TABLE "chat_messages" REPLICA IDENTITY FULL;--> statement-breakpoint
ALTER TABLE "chat_participants" REPLICA IDENTITY FULL;--> statement-breakpoint
ALTER TABLE "chat_approvals" REPLICA IDENTITY FULL;--> statement-breakpoint
ALTER TABLE "devices" REPLICA IDENTITY FULL;--> statement-breakpoint
ALTER TABLE "repositories" REPLICA IDENTITY FULL;
