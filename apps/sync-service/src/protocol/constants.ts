/** Wire names of Electric's Shape HTTP API, defined once (electric-api.yaml). */

export const SHAPE_PATH = "/v1/shape";
export const HEALTH_PATH = "/v1/health";

export const HEADER = {
  handle: "electric-handle",
  offset: "electric-offset",
  schema: "electric-schema",
  cursor: "electric-cursor",
  upToDate: "electric-up-to-date",
} as const;

export const QUERY = {
  table: "table",
  where: "where",
  columns: "columns",
  replica: "replica",
  offset: "offset",
  handle: "handle",
  live: "live",
  liveSse: "live_sse",
  experimentalLiveSse: "experimental_live_sse",
  cursor: "cursor",
  log: "log",
  secret: "secret",
  legacySecret: "api_secret",
} as const;

/** Every response header a browser client must be able to read. */
export const EXPOSED_HEADERS = [
  HEADER.handle,
  HEADER.offset,
  HEADER.schema,
  HEADER.cursor,
  HEADER.upToDate,
  "etag",
] as const;

/** Cache-Control values as Electric sends them. */
export const CACHE_CONTROL = {
  /** Initial and catch-up chunks: immutable for a handle and offset. */
  nonLive: "public, max-age=604800, s-maxage=3600, stale-while-revalidate=2629746",
  /** Long-poll responses: short, so that requests collapse in a CDN. */
  live: "public, max-age=5, stale-while-revalidate=5",
  /** 409 must-refetch: briefly cacheable, as in Electric. */
  mustRefetch: "public, max-age=60, must-revalidate",
  noStore: "no-store",
  sse: "no-cache",
} as const;

/** Length of the cursor interval that busts CDN caches of live requests (seconds), as Electric. */
export const CURSOR_INTERVAL_SECONDS = 20;
