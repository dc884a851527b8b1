import type { Auth } from "@superset/auth";
import { getAuthenticatedSession } from "@superset/auth";
import type { Database } from "@superset/db/client";
import { DEVICE_COLUMNS, isSyncedTable, SYNCED_TABLES, scopeFor } from "./scopes";
import { checkClientWhere } from "./where-guard";

export interface ElectricProxyOptions {
  auth: Auth;
  db: Database;
  /** Base URL of the sync service (or Electric), e.g. http://localhost:3002. */
  electricUrl: string;
  /** Added as `secret` to every upstream request; never sent back. */
  electricSecret?: string | null;
  /** The mount point of the proxy in the API. */
  basePath?: string;
  fetch?: typeof fetch;
  onError?: (error: unknown) => void;
}

/** Electric protocol parameters passed through as they are; everything else is dropped or rebuilt. */
const PASSTHROUGH = new Set([
  "offset",
  "handle",
  "live",
  "live_sse",
  "experimental_live_sse",
  "cursor",
  "log",
  "replica",
  "expired_handle",
  "cache-buster",
]);

/** Response headers that must not be copied: fetch already decoded the body. */
const DROPPED_RESPONSE_HEADERS = new Set([
  "content-encoding",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
]);

const json = (status: number, message: string, extra: Record<string, string> = {}) =>
  Response.json(
    { message },
    { status, headers: { "cache-control": "no-store", vary: "Cookie, Authorization", ...extra } },
  );

/**
 * `/v1/shape` below the mount point, after decoding, collapsing repeated
 * slashes and refusing dot segments; null for anything else.
 */
export function normalisePath(pathname: string, basePath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  const collapsed = decoded.replace(/\/{2,}/g, "/");
  if (!collapsed.startsWith(`${basePath}/`)) return null;
  const rest = collapsed.slice(basePath.length).replace(/\/$/, "");
  if (rest.split("/").some((segment) => segment === "." || segment === "..")) return null;
  return rest;
}

function parseTable(raw: string | null): string | null {
  if (!raw) return null;
  const trimmed = raw.trim();
  const plain = trimmed.startsWith("public.") ? trimmed.slice("public.".length) : trimmed;
  const unquoted = /^"([a-z_]+)"$/.exec(plain)?.[1] ?? plain;
  return /^[a-z_]+$/.test(unquoted) ? unquoted : null;
}

/**
 * The authorizing proxy in front of the Shape API: authenticates the caller,
 * allows only the synced tables, ANDs the caller's where clause with the
 * server's scope, forwards only protocol parameters and adds the secret.
 */
export function createElectricProxy(options: ElectricProxyOptions): (req: Request) => Promise<Response> {
  const basePath = options.basePath ?? "/api/electric";
  const doFetch = options.fetch ?? fetch;
  const upstreamBase = options.electricUrl.replace(/\/+$/, "");

  return async (req) => {
    if (req.method !== "GET") return json(405, "only GET is supported", { allow: "GET" });
    const url = new URL(req.url);
    const path = normalisePath(url.pathname, basePath);
    if (path !== "/v1/shape") return json(404, "not found");

    const session = await getAuthenticatedSession(options.auth, options.db, req.headers);
    if (!session) return json(401, "sign in to sync data");
    if (!session.organizationId) return json(403, "you are not a member of an active organization");

    const search = url.searchParams;
    const table = parseTable(search.get("table"));
    if (!table || !isSyncedTable(table))
      return json(403, `table "${search.get("table") ?? ""}" is not available`);
    const hidden: readonly string[] = SYNCED_TABLES[table].hidden;

    const upstream = new URLSearchParams();
    upstream.set("table", table);
    for (const [name, value] of search) if (PASSTHROUGH.has(name)) upstream.set(name, value);

    const columns = search.get("columns");
    if (columns !== null) {
      // As the server reads them: quoted names exact, plain names case-folded.
      const requested = columns.split(",").map((c) => {
        const name = c.trim();
        return /^".*"$/.test(name) ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase();
      });
      const refused = requested.find((c) => hidden.includes(c));
      if (refused) return json(403, `column "${refused}" is not available`);
      upstream.set("columns", requested.map((c) => `"${c.replaceAll('"', '""')}"`).join(","));
    } else if (table === "devices") {
      upstream.set("columns", DEVICE_COLUMNS.join(","));
    }

    // The caller's params keep their numbers; the scope's come after every one the caller uses.
    const clientWhere = search.get("where")?.trim() || null;
    let clientParams = 0;
    for (const [name, value] of search) {
      const match = /^params\[(\d{1,3})\]$/.exec(name);
      if (!match) continue;
      clientParams = Math.max(clientParams, Number(match[1]));
      upstream.set(name, value);
    }
    if (clientWhere) {
      const check = checkClientWhere(clientWhere, hidden);
      if (!check.ok) return json(400, `where clause refused: ${check.reason}`);
      clientParams = Math.max(clientParams, check.maxParam);
    }
    const scope = await scopeFor(options.db, table, {
      userId: session.user.id,
      organizationId: session.organizationId,
    });
    const shift = clientParams;
    const scopeWhere = scope.where.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + shift}`);
    scope.values.forEach((value, i) => {
      upstream.set(`params[${i + 1 + shift}]`, value);
    });
    upstream.set("where", clientWhere ? `(${scopeWhere}) AND (${clientWhere})` : scopeWhere);
    if (options.electricSecret) upstream.set("secret", options.electricSecret);

    let response: Response;
    try {
      response = await doFetch(`${upstreamBase}/v1/shape?${upstream.toString()}`, {
        headers: { accept: req.headers.get("accept") ?? "*/*" },
        signal: req.signal,
      });
    } catch (error) {
      if (req.signal.aborted) return new Response(null, { status: 499 });
      options.onError?.(error);
      return json(502, "the sync service is unavailable");
    }

    const headers = new Headers();
    response.headers.forEach((value, name) => {
      if (!DROPPED_RESPONSE_HEADERS.has(name)) headers.set(name, value);
    });
    // Responses are per user: shared caches must not keep them, and must key on credentials.
    headers.set("vary", "Cookie, Authorization");
    const cacheControl = headers.get("cache-control");
    if (cacheControl) headers.set("cache-control", cacheControl.replace(/\bpublic\b/, "private"));
    return new Response(response.body, { status: response.status, headers });
  };
}
