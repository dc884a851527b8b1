import {
  StreamTokenError,
  type StreamTokenVerifier,
  type VerifiedStreamToken,
} from "@superset/stream-tokens";

/**
 * Remembers verified tokens until they expire, so that a client's appends pay for one signature
 * check per token rather than one per request (an HS256 check costs more than the append itself).
 *
 * Safe by construction: an entry is found only by the exact token string that was verified, an
 * entry is never used at or after the token's `exp` (it answers "expired" like the verifier would),
 * tokens without `exp` and failed verifications are not kept, and the map is bounded (least
 * recently used first out). A key withdrawn from a JWKS stops new tokens at once; tokens already
 * verified with it stay valid until their own expiry, at most their lifetime (15 minutes by default).
 */
export interface TokenCacheOptions {
  maxEntries?: number;
  now?: () => number;
}

export function cachingVerifier(
  verify: StreamTokenVerifier,
  options: TokenCacheOptions = {},
): StreamTokenVerifier {
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, VerifiedStreamToken & { expiresAt: number }>();
  return async (token) => {
    const cached = entries.get(token);
    if (cached) {
      entries.delete(token);
      if (cached.expiresAt * 1000 <= now()) throw new StreamTokenError("token expired", "expired");
      entries.set(token, cached);
      return cached;
    }
    const claims = await verify(token);
    const { expiresAt } = claims;
    if (expiresAt !== undefined && expiresAt * 1000 > now()) {
      entries.set(token, { ...claims, expiresAt });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    }
    return claims;
  };
}
