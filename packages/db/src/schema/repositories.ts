import { index, pgTable, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";
import { organizations } from "./auth";

export const repositories = pgTable(
  "repositories",
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text().notNull(),
    url: text(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique("repositories_organization_name_unique").on(t.organizationId, t.name),
    // Target of the composite foreign key that keeps a session's repository in its organization.
    unique("repositories_id_organization_unique").on(t.id, t.organizationId),
    index("repositories_organization_id_idx").on(t.organizationId),
  ],
);
export type Repository = typeof repositories.$inferSelect;
