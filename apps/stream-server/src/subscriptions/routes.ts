import type { StreamTokenVerifier } from "@superset/stream-tokens";
import { z } from "zod";
import { authenticate, type Principal, requireRight, rightsFor, storagePath, targetOf } from "../http/auth";
import type { RateLimiter } from "../http/rate-limit";
import { StreamError } from "../protocol/errors";
import { SubscriptionError } from "./errors";
import { literalPrefix, splitSegments } from "./glob";
import {
  absolutePath,
  normalizePattern,
  normalizeRelativePath,
  parseControlPath,
  SUBSCRIPTION_ID_RE,
} from "./paths";
import type { SubscriptionConfig, SubscriptionRecord } from "./record";
import type { SubscriptionService } from "./service";

/**
 * HTTP of the reserved control namespace `<root>/__ds/...` (plain fetch handlers; app.ts mounts them):
 * - `GET  jwks.json`: the webhook signing keys (public);
 * - `PUT|GET|DELETE subscriptions/:id`, `POST subscriptions/:id/streams`,
 *   `DELETE subscriptions/:id/streams/:path`, `POST subscriptions/:id/claim`: with auth on, a stream
 *   token that may read every stream the subscription covers (and append to its wake stream);
 * - `POST subscriptions/:id/callback|ack|release`: the wake's callback token instead.
 */
export interface ControlOptions {
  service: SubscriptionService;
  verify: StreamTokenVerifier | null;
  rateLimiter: RateLimiter | null;
  /** Public URL of the mount point (`http://host/streams`). */
  mountUrl: string;
}

const MAX_CONTROL_BODY_BYTES = 1024 * 1024;

const createSchema = z
  .object({
    type: z.enum(["webhook", "pull-wake"]),
    pattern: z.string().min(1).max(1024).optional(),
    streams: z.array(z.string().min(1).max(1024)).max(1000).optional(),
    webhook: z.object({ url: z.string().min(1).max(2048) }).optional(),
    wake_stream: z.string().min(1).max(1024).optional(),
    lease_ttl_ms: z.number().int().min(1000).max(600_000).optional(),
    description: z.string().max(1000).optional(),
  })
  .refine((value) => value.pattern !== undefined || (value.streams?.length ?? 0) > 0, {
    message: "a subscription needs a pattern or streams",
  })
  .refine((value) => value.type !== "webhook" || value.webhook !== undefined, {
    message: "webhook subscriptions need webhook.url",
  })
  .refine((value) => value.type !== "pull-wake" || value.wake_stream !== undefined, {
    message: "pull-wake subscriptions need wake_stream",
  });

export async function handleControl(request: Request, pathBelowMount: string, options: ControlOptions) {
  try {
    return await route(request, pathBelowMount, options);
  } catch (error) {
    if (error instanceof SubscriptionError) {
      return json(
        error.status,
        { error: { code: error.code, message: error.message, ...error.details } },
        error.headers,
      );
    }
    if (error instanceof StreamError) {
      return json(error.status, { error: { code: error.code, message: error.message } }, error.headers);
    }
    throw error;
  }
}

async function route(request: Request, pathBelowMount: string, options: ControlOptions): Promise<Response> {
  const control = parseControlPath(pathBelowMount);
  if (!control) throw new SubscriptionError(404, "NOT_FOUND", "no such control route");
  const { service } = options;
  await service.ready;
  const [area, id, action, ...streamPath] = control.rest;
  const method = request.method;

  if (area === "jwks.json" && id === undefined) {
    if (method !== "GET" && method !== "HEAD") throw methodNotAllowed();
    return json(200, service.signingKeys.jwks(), {
      "content-type": "application/jwk-set+json",
      "cache-control": "public, max-age=300",
    });
  }
  if (area !== "subscriptions" || id === undefined) {
    throw new SubscriptionError(404, "NOT_FOUND", "no such control route");
  }
  if (!SUBSCRIPTION_ID_RE.test(id)) throw invalid("subscription id must match [A-Za-z0-9._:~-]{1,200}");

  // Callback-token routes: the token names the subscription and the wake.
  if (action === "callback" || action === "ack" || action === "release") {
    if (method !== "POST" || streamPath.length > 0) throw methodNotAllowed();
    const token = bearer(request);
    const principalRoot = options.verify ? rootFromToken(control.root, token) : control.root;
    const key = service.key(principalRoot, id);
    const body = (await readJson(request)) as Record<string, unknown>;
    if (action === "release") {
      await service.release(key, token, body);
      return new Response(null, { status: 204 });
    }
    const type = action === "callback" ? "webhook" : "pull-wake";
    return json(200, await service.acknowledge(key, type, token, body));
  }

  const principal = options.verify
    ? await authenticate(options.verify, request.headers.get("authorization"))
    : undefined;
  if (principal) options.rateLimiter?.take(principal.key);
  const root = storagePath(principal, control.root);
  const key = service.key(root, id);
  const authorize = (config: Pick<SubscriptionConfig, "pattern" | "streams" | "wake_stream">) => {
    if (principal) authorizeCoverage(principal, control.root, config);
  };
  const existing = async (): Promise<SubscriptionRecord> => {
    const record = await service.get(key);
    if (!record) throw new SubscriptionError(404, "SUBSCRIPTION_NOT_FOUND", "subscription not found");
    authorize(coverageOf(record));
    return record;
  };

  if (action === undefined) {
    if (method === "PUT") {
      const config = parseCreate(await readJson(request));
      authorize(config);
      const publicBase = `${options.mountUrl}${control.root}`;
      const { record, created } = await service.createOrConfirm(root, publicBase, id, config);
      return json(created ? 201 : 200, await service.describe(record));
    }
    if (method === "GET") return json(200, await service.describe(await existing()));
    if (method === "DELETE") {
      if (await service.get(key)) {
        await existing();
        await service.remove(key);
      }
      return new Response(null, { status: 204 });
    }
    throw methodNotAllowed();
  }
  if (action === "streams") {
    if (method === "POST" && streamPath.length === 0) {
      const body = (await readJson(request)) as { streams?: unknown };
      const parsed = z.array(z.string().min(1).max(1024)).min(1).max(1000).safeParse(body.streams);
      if (!parsed.success) throw invalid("streams must be a non-empty array of stream paths");
      const streams = parsed.data.map((stream) => normalizeRelativePath(stream));
      await existing();
      authorize({ streams });
      await service.addStreams(key, streams);
      return new Response(null, { status: 204 });
    }
    if (method === "DELETE" && streamPath.length > 0) {
      await existing();
      await service.removeStream(key, normalizeRelativePath(streamPath.join("/")));
      return new Response(null, { status: 204 });
    }
    throw methodNotAllowed();
  }
  if (action === "claim" && streamPath.length === 0) {
    if (method !== "POST") throw methodNotAllowed();
    const body = (await readJson(request)) as { worker?: unknown };
    if (typeof body.worker !== "string" || body.worker.length === 0 || body.worker.length > 200) {
      throw invalid("worker must be a non-empty string of at most 200 characters");
    }
    await existing();
    return json(200, await service.claim(key, body.worker));
  }
  throw new SubscriptionError(404, "NOT_FOUND", "no such control route");
}

/**
 * With auth on, subscriptions live under their organization's storage root, which the public
 * callback URL does not name: it is read from the callback token's subject (the record key),
 * which must be this URL's root under one organization. The service then verifies the token's
 * MAC against exactly that key, so a forged subject is refused.
 */
function rootFromToken(publicRoot: string, token: string): string {
  const subject = subjectOf(token);
  if (!subject?.startsWith("sub:")) return publicRoot;
  let root: string;
  try {
    root = decodeURIComponent(subject.slice("sub:".length, subject.lastIndexOf(":")));
  } catch {
    return publicRoot;
  }
  if (!root.endsWith(publicRoot)) return publicRoot;
  return /^\/org\/[^/]+$/.test(root.slice(0, root.length - publicRoot.length)) ? root : publicRoot;
}

function subjectOf(token: string): string | undefined {
  const payload = token.split(".")[0];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { s?: unknown };
    return typeof claims.s === "string" ? claims.s : undefined;
  } catch {
    return undefined;
  }
}

function coverageOf(
  record: SubscriptionRecord,
): Pick<SubscriptionConfig, "pattern" | "streams" | "wake_stream"> {
  const explicit = Object.entries(record.streams)
    .filter(([, link]) => link.links.includes("explicit"))
    .map(([path]) => path);
  return {
    pattern: record.config.pattern,
    streams: [...new Set([...record.config.streams, ...explicit])],
    wake_stream: record.config.wake_stream,
  };
}

/** A token may only subscribe to streams it can read, and only wake through a stream it can append to. */
function authorizeCoverage(
  principal: Principal,
  publicRoot: string,
  config: Pick<SubscriptionConfig, "pattern" | "streams" | "wake_stream">,
): void {
  const check = (path: string, method: "GET" | "POST") => {
    const target = targetOf(path);
    if (!target) throw new SubscriptionError(403, "FORBIDDEN", `token does not cover ${path}`);
    requireRight(principal, target, rightsFor(method, target));
  };
  for (const stream of config.streams ?? []) check(absolutePath(publicRoot, stream), "GET");
  if (config.wake_stream) check(absolutePath(publicRoot, config.wake_stream), "POST");
  if (config.pattern) {
    const [session] = [...splitSegments(publicRoot), ...literalPrefix(config.pattern)];
    if (!session) {
      throw new SubscriptionError(403, "FORBIDDEN", "a pattern must start with the token's session");
    }
    check(`/${session}`, "GET");
  }
}

function parseCreate(body: unknown): SubscriptionConfig {
  const parsed = createSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"}`);
  }
  const value = parsed.data;
  const config: SubscriptionConfig = {
    type: value.type,
    streams: (value.streams ?? []).map((stream) => normalizeRelativePath(stream)),
    lease_ttl_ms: value.lease_ttl_ms ?? 30_000,
  };
  if (value.pattern !== undefined) config.pattern = normalizePattern(value.pattern);
  if (value.type === "webhook" && value.webhook) config.webhook = { url: value.webhook.url };
  if (value.type === "pull-wake" && value.wake_stream) {
    config.wake_stream = normalizeRelativePath(value.wake_stream, "wake_stream");
  }
  if (value.description !== undefined) config.description = value.description;
  return config;
}

function bearer(request: Request): string {
  const match = request.headers.get("authorization")?.match(/^Bearer\s+(\S+)$/i);
  if (!match?.[1]) {
    throw new SubscriptionError(
      401,
      "TOKEN_INVALID",
      "missing bearer token",
      {},
      { "www-authenticate": "Bearer" },
    );
  }
  return match[1];
}

async function readJson(request: Request): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_CONTROL_BODY_BYTES)
    throw new SubscriptionError(413, "PAYLOAD_TOO_LARGE", "body too large");
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_CONTROL_BODY_BYTES) {
    throw new SubscriptionError(413, "PAYLOAD_TOO_LARGE", "body too large");
  }
  if (text.trim() === "") return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new SyntaxError();
    return value;
  } catch {
    throw invalid("body must be a JSON object");
  }
}

const invalid = (message: string) => new SubscriptionError(400, "INVALID_REQUEST", message);
const methodNotAllowed = () => new SubscriptionError(405, "METHOD_NOT_ALLOWED", "method not allowed");

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}
