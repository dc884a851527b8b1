import { handleElectric } from "~/lib/electric-proxy";

export const dynamic = "force-dynamic";
export { handleElectric as GET };
