import { describe, expect, it } from "vitest";
import { parseApiEnv } from "~/env";

const base = { DATABASE_URL: "postgres://u:p@127.0.0.1:5432/db" };

describe("API environment", () => {
  it("fills defaults", () => {
    const env = parseApiEnv(base);
    expect(env).toMatchObject({
      CLAIM_LEASE_MS: 30_000,
      MAX_CLAIMS: 3,
      STREAM_TOKEN_TTL_SECONDS: 900,
      LOG_LEVEL: "info",
    });
  });

  it("names the variable that is wrong", () => {
    expect(() => parseApiEnv({ ...base, CLAIM_LEASE_MS: "soon" })).toThrow(/CLAIM_LEASE_MS/);
    expect(() => parseApiEnv({ ...base, MAX_CLAIMS: "0" })).toThrow(/MAX_CLAIMS must be at least 1/);
    expect(() => parseApiEnv({})).toThrow(/DATABASE_URL/);
  });

  it("requires real secrets in production", () => {
    expect(() => parseApiEnv({ ...base, NODE_ENV: "production" })).toThrow(/BETTER_AUTH_SECRET is required/);
  });
});
