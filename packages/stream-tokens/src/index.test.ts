import { describe, expect, it } from "vitest";
import { createStreamTokenVerifier, mintStreamToken, StreamTokenError } from "./index";

const secret = "s".repeat(40);
const claims = {
  userId: "u1",
  organizationId: "o1",
  sessionId: "s1",
  rights: ["read" as const, "presence" as const],
  name: "Ada",
};

describe("stream tokens", () => {
  it("round-trips claims", async () => {
    const { token } = await mintStreamToken(claims, { secret });
    await expect(createStreamTokenVerifier({ secret })(token)).resolves.toMatchObject(claims);
  });

  it("rejects a token signed with another secret", async () => {
    const { token } = await mintStreamToken(claims, { secret: "x".repeat(40) });
    await expect(createStreamTokenVerifier({ secret })(token)).rejects.toMatchObject({ code: "invalid" });
  });

  it("reports an expired token as expired", async () => {
    const { token } = await mintStreamToken(claims, { secret, ttlSeconds: -10 });
    const error = await createStreamTokenVerifier({ secret })(token).catch((e) => e);
    expect(error).toBeInstanceOf(StreamTokenError);
    expect(error.code).toBe("expired");
  });

  it("refuses a short secret", async () => {
    await expect(mintStreamToken(claims, { secret: "short" })).rejects.toThrow(/32 characters/);
  });
});
