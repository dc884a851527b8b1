import { z } from "zod";

const schema = z.object({
  DATABASE_URL: z
    .string()
    .url("DATABASE_URL must be a postgres:// URL")
    .optional()
    .or(z.literal("").transform(() => undefined)),
});

/** The database environment, validated once. Without DATABASE_URL the embedded Postgres is used. */
export const dbEnv = schema.parse(process.env);
