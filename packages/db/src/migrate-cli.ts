import { dbEnv } from "./env";
import { migrateDatabase } from "./migrate";

// `npm run db:migrate`: applies migrations to DATABASE_URL (npm start does this itself on the embedded database).
const url = dbEnv.DATABASE_URL;
if (!url) {
  process.stderr.write("Set DATABASE_URL to migrate a database (npm start migrates the embedded one).\n");
  process.exit(1);
}
await migrateDatabase(url);
process.stdout.write("migrations applied\n");
