import { handleAuth } from "~/lib/handlers";

export const dynamic = "force-dynamic";
export { handleAuth as GET, handleAuth as POST };
