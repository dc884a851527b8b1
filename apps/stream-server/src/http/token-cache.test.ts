import { mintStreamToken, StreamTokenError, type VerifiedStreamToken } from "@superset/stream-tokens";
import { describe, expect, it } from "vitest";
import { cachingVerifier } from "./token-cache";

const claims = (sessionId: string, expiresAt?: number): VerifiedStreamToken => ({
  userId: "u1",
  organizationId: "o1",
  sessionId,
  rights: ["append"],
  ...(expiresAt === undefined ? {} : { expiresAt }),
});

/** A verifier that accepts tokens named `ok:<session>:<exp>` and counts its calls. */
function countingVerifier() {
  const calls: string[] = [];
  const verify = async (token: string) => {
    calls.push(token);
    const [kind, session, exp] = token.split(":");
    if (kind !== "ok" || !session) throw new StreamTokenError("invalid token", "invalid");
    return claims(session, exp ? Number(exp) : undefined);
  };
  return { verify, calls };
}

describe("verified-token cache", () => {
  it("verifies a token once and answers later requests from memory until it expires", async () => {
    let now = 1_000_000;
    const { verify, calls } = countingVerifier();
    const cached = cachingVerifier(verify, { now: () => now });
    const token = "ok:s1:1010"; // expires at 1,010,000 ms
    for (let i = 0; i < 5; i++) expect((await cached(token)).sessionId).toBe("s1");
    expect(calls).toEqual([token]);
    now = 1_009_999;
    await expect(cached(token)).resolves.toMatchObject({ sessionId: "s1" });
    now = 1_010_000;
    await expect(cached(token)).rejects.toMatchObject({ code: "expired" });
    expect(calls).toEqual([token]);
  });

  it("keeps neither failures nor tokens without an expiry, and stays within its bound", async () => {
    const { verify, calls } = countingVerifier();
    const cached = cachingVerifier(verify, { maxEntries: 2, now: () => 0 });
    await expect(cached("forged")).rejects.toMatchObject({ code: "invalid" });
    await expect(cached("forged")).rejects.toMatchObject({ code: "invalid" });
    await cached("ok:no-exp");
    await cached("ok:no-exp");
    expect(calls).toEqual(["forged", "forged", "ok:no-exp", "ok:no-exp"]);
    calls.length = 0;
    await cached("ok:a:99");
    await cached("ok:b:99");
    await cached("ok:a:99"); // a is now the most recently used
    await cached("ok:c:99"); // evicts b
    await cached("ok:a:99");
    await cached("ok:b:99");
    expect(calls).toEqual(["ok:a:99", "ok:b:99", "ok:c:99", "ok:b:99"]);
  });

  it("carries the real verifier's expiry and refuses a token one character off", async () => {
    const secret = "s".repeat(40);
    const { createStreamTokenVerifier } = await import("@superset/stream-tokens");
    const cached = cachingVerifier(createStreamTokenVerifier({ secret }));
    const { token, expiresAt } = await mintStreamToken(claims("s2"), { secret, ttlSeconds: 60 });
    const verified = await cached(token);
    expect(verified.expiresAt).toBe(Math.floor(expiresAt.getTime() / 1000));
    await cached(token);
    // A character inside the signature (the last one carries unused bits).
    const at = token.length - 10;
    const other = token[at] === "A" ? "B" : "A";
    const forged = `${token.slice(0, at)}${other}${token.slice(at + 1)}`;
    await expect(cached(forged)).rejects.toBeInstanceOf(StreamTokenError);
  });
});
