import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { z } from "zod";

/**
 * Tokens for the durable stream server. The API mints them for a session's
 * participants (read, presence) and for the device that holds a claim (append);
 * the stream server verifies them. One token covers one session of one organization.
 */

export const STREAM_RIGHTS = ["read", "append", "presence"] as const;
export type StreamRight = (typeof STREAM_RIGHTS)[number];

export const STREAM_TOKEN_ISSUER = "superset-api";
export const STREAM_TOKEN_AUDIENCE = "superset-stream";
export const DEFAULT_STREAM_TOKEN_TTL_SECONDS = 15 * 60;

export interface StreamTokenClaims {
  /** The user the token acts for (a device acts for its owner). */
  userId: string;
  organizationId: string;
  sessionId: string;
  rights: StreamRight[];
  /** Display name, shown in presence. */
  name?: string;
  deviceId?: string;
}

const claimsSchema = z.object({
  sub: z.string().min(1),
  org: z.string().min(1),
  sid: z.string().min(1),
  rights: z.array(z.enum(STREAM_RIGHTS)).min(1),
  name: z.string().optional(),
  did: z.string().optional(),
});

export class StreamTokenError extends Error {
  constructor(
    message: string,
    readonly code: "expired" | "invalid",
  ) {
    super(message);
    this.name = "StreamTokenError";
  }
}

function hmacKey(secret: string): Uint8Array {
  if (secret.length < 32) throw new Error("STREAM_AUTH_SECRET must be at least 32 characters");
  return new TextEncoder().encode(secret);
}

export async function mintStreamToken(
  claims: StreamTokenClaims,
  options: { secret: string; ttlSeconds?: number },
): Promise<{ token: string; expiresAt: Date }> {
  const ttl = options.ttlSeconds ?? DEFAULT_STREAM_TOKEN_TTL_SECONDS;
  const expiresAt = new Date(Date.now() + ttl * 1000);
  const payload: JWTPayload = {
    org: claims.organizationId,
    sid: claims.sessionId,
    rights: [...new Set(claims.rights)],
    ...(claims.name ? { name: claims.name } : {}),
    ...(claims.deviceId ? { did: claims.deviceId } : {}),
  };
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.userId)
    .setIssuer(STREAM_TOKEN_ISSUER)
    .setAudience(STREAM_TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(hmacKey(options.secret));
  return { token, expiresAt };
}

/** Verified claims and the token's expiry (`exp`, seconds since the epoch) when it has one. */
export interface VerifiedStreamToken extends StreamTokenClaims {
  expiresAt?: number;
}

export type StreamTokenVerifier = (token: string) => Promise<VerifiedStreamToken>;

/** A verifier for HS256 tokens signed with `secret`, or for tokens whose keys are published at `jwksUrl`. */
export function createStreamTokenVerifier(
  options: { secret: string } | { jwksUrl: string },
): StreamTokenVerifier {
  const key = "secret" in options ? hmacKey(options.secret) : createRemoteJWKSet(new URL(options.jwksUrl));
  return async (token) => {
    let payload: JWTPayload;
    try {
      const verified =
        key instanceof Uint8Array
          ? await jwtVerify(token, key, {
              issuer: STREAM_TOKEN_ISSUER,
              audience: STREAM_TOKEN_AUDIENCE,
              algorithms: ["HS256"],
            })
          : await jwtVerify(token, key, { issuer: STREAM_TOKEN_ISSUER, audience: STREAM_TOKEN_AUDIENCE });
      payload = verified.payload;
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new StreamTokenError("token expired", "expired");
      throw new StreamTokenError("invalid token", "invalid");
    }
    const parsed = claimsSchema.safeParse(payload);
    if (!parsed.success) throw new StreamTokenError("token lacks stream claims", "invalid");
    const { sub, org, sid, rights, name, did } = parsed.data;
    return {
      userId: sub,
      organizationId: org,
      sessionId: sid,
      rights,
      name,
      deviceId: did,
      ...(typeof payload.exp === "number" ? { expiresAt: payload.exp } : {}),
    };
  };
}
