import { apiEnv } from "../../env";
import { getDeps } from "../deps";
import { createElectricProxy } from "./proxy";

export { createElectricProxy, type ElectricProxyOptions, normalisePath } from "./proxy";
export { DEVICE_COLUMNS, SYNCED_TABLES, scopeFor } from "./scopes";
export { checkClientWhere } from "./where-guard";

let handler: ((req: Request) => Promise<Response>) | undefined;

/** The API process's Electric proxy, over its singletons and environment. */
export function handleElectric(req: Request): Promise<Response> {
  if (!handler) {
    const env = apiEnv();
    const { auth, db } = getDeps();
    handler = createElectricProxy({
      auth,
      db,
      electricUrl: env.ELECTRIC_URL,
      electricSecret: env.ELECTRIC_SECRET ?? null,
    });
  }
  return handler(req);
}
