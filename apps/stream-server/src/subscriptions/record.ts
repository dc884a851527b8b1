import { createHash } from "node:crypto";

/**
 * A subscription as stored (one control record per subscription, key `sub:<root>:<id>`). Every
 * change is a compare-and-set of the whole record, so instances sharing a store agree on wakes,
 * holders and acknowledged offsets.
 */
export type SubscriptionType = "webhook" | "pull-wake";
export type LinkType = "explicit" | "glob";

export interface SubscriptionConfig {
  type: SubscriptionType;
  pattern?: string;
  streams: string[];
  webhook?: { url: string };
  wake_stream?: string;
  lease_ttl_ms: number;
  description?: string;
}

export interface StreamLink {
  links: LinkType[];
  /** Offset acknowledged so far; `-1` for a stream linked before any of its data was seen. */
  acked: string;
}

export interface SubscriptionRecord {
  id: string;
  /** Storage root the relative stream paths hang from. */
  root: string;
  /** Public URL of the root (`http://host/streams/v1/stream`), for callback and JWKS URLs. */
  publicBase: string;
  config: SubscriptionConfig;
  configHash: string;
  createdAt: string;
  status: "active" | "failed";
  streams: Record<string, StreamLink>;
  generation: number;
  wakeId: string | null;
  /** Tail of each linked stream when the current wake was created (what `done: true` acknowledges). */
  wakeSnapshot: Record<string, string>;
  holder: string | null;
  leaseExpiresAt: number | null;
  retryCount: number;
}

export const BEFORE_FIRST = "-1";

export function recordKey(root: string, id: string): string {
  return `sub:${encodeURIComponent(root)}:${id}`;
}

export const RECORD_PREFIX = "sub:";

export function configHash(config: SubscriptionConfig): string {
  const canonical = {
    type: config.type,
    pattern: config.pattern ?? null,
    streams: [...new Set(config.streams)].sort(),
    webhook: config.webhook?.url ?? null,
    wake_stream: config.wake_stream ?? null,
    lease_ttl_ms: config.lease_ttl_ms,
    description: config.description ?? null,
  };
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

export interface StreamInfo {
  path: string;
  link_type: LinkType;
  acked_offset: string;
  tail_offset: string;
  has_pending: boolean;
}

export function linkType(link: StreamLink): LinkType {
  return link.links.includes("explicit") ? "explicit" : "glob";
}

/** Clears the current wake and its lease. */
export function endWake(record: SubscriptionRecord): void {
  record.wakeId = null;
  record.wakeSnapshot = {};
  record.holder = null;
  record.leaseExpiresAt = null;
}
