import { SubscriptionError } from "./errors";

/**
 * The reserved control namespace: the first path segment `__ds` below the mount point. What comes
 * before it is the root the subscription APIs work in; stream paths in their bodies are relative
 * to that root (`/v1/stream/__ds/subscriptions/s` with pattern `events/*` covers `/v1/stream/events/x`).
 */
export const CONTROL_SEGMENT = "__ds";

export interface ControlPath {
  /** Public root below the mount point: "" or "/a/b". */
  root: string;
  /** Decoded segments after `__ds`. */
  rest: string[];
}

export function isControlPath(pathBelowMount: string): boolean {
  return pathBelowMount.split("/").includes(CONTROL_SEGMENT);
}

/** Splits a path below the mount point at its first `__ds` segment; undefined for ordinary streams. */
export function parseControlPath(pathBelowMount: string): ControlPath | undefined {
  const raw = pathBelowMount.split("/").slice(1);
  const at = raw.indexOf(CONTROL_SEGMENT);
  if (at < 0) return undefined;
  const rootSegments = raw.slice(0, at);
  for (const segment of rootSegments) checkSegment(decode(segment));
  const rest = raw.slice(at + 1).map(decode);
  return { root: rootSegments.length ? `/${rootSegments.join("/")}` : "", rest };
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalid("invalid control path");
  }
}

function checkSegment(segment: string): void {
  if (segment === "" || segment === "." || segment === ".." || segment.length > 256) {
    throw invalid("invalid path");
  }
}

const invalid = (message: string) => new SubscriptionError(400, "INVALID_REQUEST", message);

/** A stream path relative to the root: `a/b`, no empty, `.`, `..` or `__ds` segments. */
export function normalizeRelativePath(value: string, what = "stream path"): string {
  const trimmed = value.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "" || trimmed.length > 1024) throw invalid(`${what} must be a non-empty relative path`);
  for (const segment of trimmed.split("/")) {
    checkSegment(segment);
    if (segment === CONTROL_SEGMENT) throw invalid(`${what} must not use the reserved __ds segment`);
  }
  return trimmed;
}

/** A glob pattern relative to the root. */
export function normalizePattern(value: string): string {
  return normalizeRelativePath(value, "pattern");
}

export function absolutePath(root: string, relative: string): string {
  return `${root}/${relative}`;
}

/** The path relative to `root` if the stream lies below it. */
export function relativeTo(root: string, path: string): string | undefined {
  if (!path.startsWith(`${root}/`)) return undefined;
  const relative = path.slice(root.length + 1);
  if (relative === "" || relative.split("/").includes(CONTROL_SEGMENT)) return undefined;
  return relative;
}

export const SUBSCRIPTION_ID_RE = /^[A-Za-z0-9._:~-]{1,200}$/;
