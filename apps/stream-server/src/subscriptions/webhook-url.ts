import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";
import { SubscriptionError } from "./errors";

/**
 * Which webhook URLs a subscription may name (STREAM_WEBHOOK_ALLOWED_HOSTS, comma-separated):
 * - nothing configured: no webhook target at all (pull-wake still works);
 * - `host` or `host:port`: that host, over http or https, whatever it resolves to (loopback and
 *   private networks included: naming a host is the operator's decision);
 * - `*.example.com`: its subdomains, `*`: any host; https only, and only while the host resolves
 *   to public addresses (checked on every delivery, so DNS cannot be turned against the network).
 */
export interface WebhookTarget {
  url: URL;
  /** Named explicitly: private addresses allowed. */
  explicit: boolean;
}

const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  ["64:ff9b::", 96],
  ["2001:db8::", 32],
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv6");
}

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !PRIVATE.check(address, "ipv4");
  if (family === 6) {
    const mapped = address.toLowerCase().match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
    if (mapped?.[1]) return isPublicAddress(mapped[1]);
    if (address.toLowerCase().startsWith("::ffff:")) return false;
    return !PRIVATE.check(address, "ipv6");
  }
  return false;
}

export class WebhookUrlPolicy {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];
  private anyPublic = false;

  constructor(allowed: string[]) {
    for (const raw of allowed) {
      const entry = raw.trim().toLowerCase();
      if (!entry) continue;
      if (entry === "*") this.anyPublic = true;
      else if (entry.startsWith("*.")) this.suffixes.push(entry.slice(1));
      else this.exact.add(entry);
    }
  }

  check(raw: string): WebhookTarget {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw rejected("webhook.url must be a valid absolute URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw rejected("webhook.url must use https");
    if (url.username || url.password) throw rejected("webhook.url must not carry credentials");
    const host = url.hostname.toLowerCase();
    const hostPort = url.port ? `${host}:${url.port}` : host;
    if (this.exact.has(host) || this.exact.has(hostPort)) return { url, explicit: true };
    const wildcard = this.anyPublic || this.suffixes.some((suffix) => host.endsWith(suffix));
    if (!wildcard) {
      throw rejected(`webhook host ${host} is not allowed (the server's STREAM_WEBHOOK_ALLOWED_HOSTS)`);
    }
    if (url.protocol !== "https:") throw rejected("webhook.url must use https");
    const literal = host.replace(/^\[|\]$/g, "");
    if (isIP(literal) && !isPublicAddress(literal)) {
      throw rejected("webhook.url must not target private, loopback or link-local addresses");
    }
    if (host === "localhost" || host.endsWith(".localhost"))
      throw rejected("webhook.url must not be localhost");
    return { url, explicit: false };
  }
}

const rejected = (message: string) => new SubscriptionError(400, "WEBHOOK_URL_REJECTED", message);

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A dns.lookup for http.request that refuses non-public addresses (no DNS rebinding into the network). */
export function publicOnlyLookup(hostname: string, options: object, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const list = addresses as LookupAddress[];
    const blocked = list.find((entry) => !isPublicAddress(entry.address));
    if (blocked || list.length === 0) {
      const refusal = Object.assign(new Error(`webhook host ${hostname} resolves to a non-public address`), {
        code: "EWEBHOOKBLOCKED",
      });
      return callback(refusal, []);
    }
    if ((options as { all?: boolean }).all) return callback(null, list);
    const first = list[0] as LookupAddress;
    callback(null, first.address, first.family);
  });
}
