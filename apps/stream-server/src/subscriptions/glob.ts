/**
 * Subscription patterns: `/`-separated segments where `*` matches exactly one segment, `**` any
 * number of segments (zero included) and anything else matches itself.
 */
export function splitSegments(path: string): string[] {
  return path.split("/").filter((segment) => segment.length > 0);
}

export function globMatch(pattern: string, path: string): boolean {
  return matchFrom(splitSegments(pattern), 0, splitSegments(path), 0);
}

function matchFrom(pattern: string[], p: number, path: string[], s: number): boolean {
  while (p < pattern.length) {
    const segment = pattern[p] as string;
    if (segment === "**") {
      for (let skip = s; skip <= path.length; skip++) {
        if (matchFrom(pattern, p + 1, path, skip)) return true;
      }
      return false;
    }
    if (s >= path.length) return false;
    if (segment !== "*" && segment !== path[s]) return false;
    p += 1;
    s += 1;
  }
  return s === path.length;
}

/** The literal segments a pattern starts with (before its first wildcard). */
export function literalPrefix(pattern: string): string[] {
  const prefix: string[] = [];
  for (const segment of splitSegments(pattern)) {
    if (segment === "*" || segment === "**") break;
    prefix.push(segment);
  }
  return prefix;
}
