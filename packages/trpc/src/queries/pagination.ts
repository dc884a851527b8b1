import { ChatError } from "../errors";

/**
 * Keyset cursors: the sort key of the last row of a page, as Postgres prints
 * it (microsecond timestamps survive the round trip; a JS Date would not),
 * plus the row id as a tie-breaker. Opaque to clients.
 */
export interface CursorKey {
  at: string;
  id: string;
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.at, key.id])).toString("base64url");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2})?|Z)?$/;

export function decodeCursor(cursor: string): CursorKey {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2) {
      const [at, id] = value;
      if (typeof at === "string" && typeof id === "string" && TIMESTAMP.test(at) && UUID.test(id)) {
        return { at, id };
      }
    }
  } catch {
    // fall through
  }
  throw new ChatError("BAD_REQUEST", "Invalid cursor: pass the nextCursor of a previous page");
}

/** Splits a `limit + 1` fetch into a page and the cursor of the next one. */
export function toPage<T extends { id: string }>(
  rows: (T & { cursorAt: string })[],
  limit: number,
): { items: T[]; nextCursor: string | null } {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  const items = pageRows.map(({ cursorAt: _, ...item }) => item as unknown as T);
  return { items, nextCursor: hasMore && last ? encodeCursor({ at: last.cursorAt, id: last.id }) : null };
}
