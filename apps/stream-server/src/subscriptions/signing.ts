import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  timingSafeEqual,
} from "node:crypto";
import type { StreamBackend } from "../store/types";

/**
 * Server keys of the subscription APIs, kept in the store so that every instance (Redis) and
 * every restart (file) signs with the same ones:
 * - an Ed25519 key that signs webhook deliveries (`webhook-signature: t=<unix>,kid=<kid>,ed25519=<sig>`
 *   over `<t>.<raw body>`), its public half published as a JWKS;
 * - an HMAC secret for callback tokens, which name a subscription and a wake generation, so that a
 *   token of an older wake is recognised (409 FENCED) rather than unknown (401).
 */
const SIGNING_KEY_RECORD = "key:webhook-ed25519";
const TOKEN_SECRET_RECORD = "key:callback-hmac";

export interface Jwk {
  kty: "OKP";
  crv: "Ed25519";
  alg: "EdDSA";
  use: "sig";
  kid: string;
  x: string;
}

/** Keys supplied by configuration instead of the store. */
export interface GivenKeys {
  signingKey?: KeyObject;
  tokenSecret?: Buffer;
}

/** Parses `STREAM_WEBHOOK_SIGNING_KEY`: an Ed25519 private key in PEM (PKCS#8). */
export function parseSigningKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new Error("not a PEM private key");
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new Error(`an Ed25519 key is required, got ${key.asymmetricKeyType}`);
  }
  return key;
}

export class SubscriptionKeys {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly jwk: Jwk,
    private readonly tokenSecret: Buffer,
  ) {}

  /**
   * Keys given by the operator win over the stored ones (a key from a secret manager, the same on
   * every instance whatever the storage); otherwise the store's, created by the first instance.
   */
  static async load(backend: StreamBackend, given: GivenKeys = {}): Promise<SubscriptionKeys> {
    const privateKey =
      given.signingKey ??
      createPrivateKey({
        key: Buffer.from(
          await getOrCreate(backend, SIGNING_KEY_RECORD, () =>
            generateKeyPairSync("ed25519")
              .privateKey.export({ format: "der", type: "pkcs8" })
              .toString("base64"),
          ),
          "base64",
        ),
        format: "der",
        type: "pkcs8",
      });
    const secret =
      given.tokenSecret ??
      Buffer.from(
        await getOrCreate(backend, TOKEN_SECRET_RECORD, () => randomBytes(32).toString("base64")),
        "base64",
      );
    const x = createPublicKey(privateKey).export({ format: "jwk" }).x as string;
    const kid = `ds_${createHash("sha256").update(x).digest("base64url").slice(0, 16)}`;
    return new SubscriptionKeys(
      privateKey,
      { kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", kid, x },
      secret,
    );
  }

  get kid(): string {
    return this.jwk.kid;
  }

  jwks(): { keys: Jwk[] } {
    return { keys: [this.jwk] };
  }

  signatureHeader(body: string, now = Date.now()): string {
    const t = Math.floor(now / 1000);
    const signature = sign(null, Buffer.from(`${t}.${body}`), this.privateKey).toString("base64url");
    return `t=${t},kid=${this.kid},ed25519=${signature}`;
  }

  /** A bearer token for one wake generation of one subscription. */
  mintToken(subject: string, generation: number, ttlMs: number, now = Date.now()): string {
    const payload = Buffer.from(JSON.stringify({ s: subject, g: generation, e: now + ttlMs })).toString(
      "base64url",
    );
    return `${payload}.${this.mac(payload)}`;
  }

  verifyToken(
    token: string,
    subject: string,
    now = Date.now(),
  ): { ok: true; generation: number } | { ok: false; code: "TOKEN_INVALID" | "TOKEN_EXPIRED" } {
    const [payload, mac, extra] = token.split(".");
    if (!payload || !mac || extra !== undefined) return { ok: false, code: "TOKEN_INVALID" };
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      return { ok: false, code: "TOKEN_INVALID" };
    }
    let claims: { s?: unknown; g?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      return { ok: false, code: "TOKEN_INVALID" };
    }
    if (claims.s !== subject || typeof claims.g !== "number") return { ok: false, code: "TOKEN_INVALID" };
    if (typeof claims.e !== "number" || claims.e < now) return { ok: false, code: "TOKEN_EXPIRED" };
    return { ok: true, generation: claims.g };
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.tokenSecret).update(payload).digest("base64url");
  }
}

async function getOrCreate(backend: StreamBackend, key: string, create: () => string): Promise<string> {
  const existing = await backend.getRecord(key);
  if (existing) return existing.value;
  if (await backend.putRecord(key, 0, create())) return (await backend.getRecord(key))?.value as string;
  // Another instance created it first: use theirs.
  const winner = await backend.getRecord(key);
  if (!winner) throw new Error(`could not create ${key}`);
  return winner.value;
}
