import { handleHealth } from "~/lib/handlers";

export const dynamic = "force-dynamic";
export { handleHealth as GET };
