import { H } from "../protocol/constants";
import { badRequest } from "../protocol/errors";
import type { ProducerHeaders } from "../streams/producers";

const NON_NEGATIVE_INTEGER = /^(0|[1-9]\d*)$/;
const DIGITS = /^\d+$/;

export function parseTtl(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!NON_NEGATIVE_INTEGER.test(value))
    throw badRequest("invalid Stream-TTL: a non-negative integer of seconds");
  return Number(value);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function parseExpiresAt(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
    throw badRequest("invalid Stream-Expires-At: an RFC 3339 timestamp");
  }
  return value;
}

/** What the handlers read request headers through: a fetch `Headers` or a view of Node's headers. */
export interface HeaderSource {
  get(name: string): string | null;
}

/** Lower-case forms of the header names asked for (a handful of constants). */
const lowerNames = new Map<string, string>();

function lower(name: string): string {
  let lowered = lowerNames.get(name);
  if (lowered === undefined) {
    lowered = name.toLowerCase();
    if (lowerNames.size < 256) lowerNames.set(name, lowered);
  }
  return lowered;
}

/** Node's request headers (lower-case keys) as a HeaderSource. */
export function nodeHeaders(headers: Record<string, string | string[] | undefined>): HeaderSource {
  return new NodeHeaderSource(headers);
}

class NodeHeaderSource implements HeaderSource {
  constructor(private readonly headers: Record<string, string | string[] | undefined>) {}

  get(name: string): string | null {
    const value = this.headers[lower(name)];
    return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
  }
}

export function parseProducer(headers: HeaderSource): ProducerHeaders | undefined {
  const id = headers.get(H.producerId);
  const epoch = headers.get(H.producerEpoch);
  const seq = headers.get(H.producerSeq);
  if (id === null && epoch === null && seq === null) return undefined;
  if (id === null || epoch === null || seq === null) {
    throw badRequest("Producer-Id, Producer-Epoch and Producer-Seq must be sent together");
  }
  if (id === "") throw badRequest("Producer-Id must not be empty");
  return { id, epoch: safeInteger(epoch, H.producerEpoch), seq: safeInteger(seq, H.producerSeq) };
}

function safeInteger(value: string, name: string): number {
  const parsed = Number(value);
  if (!DIGITS.test(value) || !Number.isSafeInteger(parsed)) {
    throw badRequest(`invalid ${name}: a non-negative integer`);
  }
  return parsed;
}

export function parseSubOffset(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!NON_NEGATIVE_INTEGER.test(value)) throw badRequest("invalid Stream-Fork-Sub-Offset");
  return Number(value);
}
