/**
 * Cursors (PROTOCOL.md "Caching and collapsing"): live responses carry a cursor that the client echoes,
 * so that CDN caches key consecutive long-polls differently. Time is cut into intervals since an epoch;
 * a client already at (or ahead of) the current interval is moved forward with jitter.
 */
const EPOCH_MS = Date.UTC(2024, 9, 9);
const INTERVAL_MS = 20_000;

/** The interval `now` falls in: the cursor of a client that sent none or an older one. */
export function cursorInterval(now = Date.now()): number {
  return Math.floor((now - EPOCH_MS) / INTERVAL_MS);
}

export function nextCursor(clientCursor: string | undefined, now = Date.now()): string {
  const current = cursorInterval(now);
  const client = clientCursor === undefined ? Number.NaN : Number.parseInt(clientCursor, 10);
  if (Number.isNaN(client) || client < current) return String(current);
  const jitterIntervals = 1 + Math.floor(Math.random() * 180);
  return String(client + jitterIntervals);
}
