import { createHash } from "node:crypto";
import {
  type StreamRight,
  type StreamTokenClaims,
  StreamTokenError,
  type StreamTokenVerifier,
} from "@superset/stream-tokens";
import { StreamError } from "../protocol/errors";

/**
 * Bearer-token authorization. A token names one session of one organization: the first path
 * segment must be that session, and only the session stream and its presence are reachable.
 * Streams are stored under the organization, so equal session ids of two organizations never meet.
 */
export interface Principal {
  claims: StreamTokenClaims;
  /** Rate-limit key: a hash of the token, never the token itself. */
  key: string;
}

export async function authenticate(verify: StreamTokenVerifier, header: string | null): Promise<Principal> {
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  if (!match?.[1])
    throw new StreamError(401, "UNAUTHENTICATED", "missing bearer token", { "www-authenticate": "Bearer" });
  try {
    const claims = await verify(match[1]);
    return { claims, key: createHash("sha256").update(match[1]).digest("base64url").slice(0, 22) };
  } catch (error) {
    const expired = error instanceof StreamTokenError && error.code === "expired";
    throw new StreamError(401, "UNAUTHENTICATED", expired ? "token expired" : "invalid token", {
      "www-authenticate": `Bearer error="invalid_token"`,
    });
  }
}

export type Target = { kind: "stream"; sessionId: string } | { kind: "presence"; sessionId: string };

/** What a request path names once auth is on: the session stream or its presence. */
export function targetOf(path: string): Target | undefined {
  const segments = path.split("/").slice(1);
  const sessionId = segments[0];
  if (!sessionId) return undefined;
  if (segments.length === 1) return { kind: "stream", sessionId };
  if (segments.length === 2 && segments[1] === "presence") return { kind: "presence", sessionId };
  return undefined;
}

export function requireRight(principal: Principal, target: Target, rights: StreamRight[]): void {
  if (principal.claims.sessionId !== target.sessionId) {
    throw new StreamError(403, "FORBIDDEN", "token does not cover this session");
  }
  if (!rights.some((right) => principal.claims.rights.includes(right))) {
    throw new StreamError(403, "FORBIDDEN", `token lacks the ${rights.join(" or ")} right`);
  }
}

export function rightsFor(method: string, target: Target): StreamRight[] {
  if (target.kind === "presence")
    return method === "GET" || method === "HEAD" ? ["read", "presence"] : ["presence"];
  return method === "GET" || method === "HEAD" ? ["read"] : ["append"];
}

/** Internal storage path: streams of an organization live under it. */
export function storagePath(principal: Principal | undefined, path: string): string {
  return principal ? `/org/${encodeURIComponent(principal.claims.organizationId)}${path}` : path;
}
