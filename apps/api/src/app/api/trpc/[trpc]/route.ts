import { handleTrpc } from "~/lib/handlers";

export const dynamic = "force-dynamic";
export { handleTrpc as GET, handleTrpc as POST };
