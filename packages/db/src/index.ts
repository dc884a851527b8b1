export { createDb, type Database } from "./client";
export * from "./schema";
