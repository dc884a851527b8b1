/**
 * Checks a client's where clause before the proxy ANDs it with the server's
 * scope: it must stay inside its own parentheses (balanced, no comments, no
 * statement separators, no quoting forms whose escapes could hide a
 * parenthesis) and must not name a column the client may not see. The sync
 * server then parses it properly; this only guarantees `(scope) AND (client)`
 * means what it says.
 */
export interface WhereCheck {
  ok: boolean;
  reason?: string;
  /** Highest `$n` the clause mentions. */
  maxParam: number;
}

export function checkClientWhere(where: string, forbiddenColumns: readonly string[]): WhereCheck {
  let depth = 0;
  let maxParam = 0;
  const forbidden = new Set(forbiddenColumns.map((c) => c.toLowerCase()));
  const fail = (reason: string): WhereCheck => ({ ok: false, reason, maxParam });
  for (let i = 0; i < where.length; i++) {
    const c = where[i] as string;
    const next = where[i + 1] ?? "";
    if (c === "'") {
      const prev = where[i - 1] ?? " ";
      // E'..' (backslash escapes) and U&'..' strings could hide a quote from this scan.
      if (/[A-Za-z0-9_&]/.test(prev)) return fail("prefixed string literals are not allowed");
      const end = closing(where, i, "'");
      if (end < 0) return fail("unterminated string");
      i = end;
    } else if (c === '"') {
      const end = closing(where, i, '"');
      if (end < 0) return fail("unterminated quoted identifier");
      const name = where.slice(i + 1, end).replaceAll('""', '"');
      if (forbidden.has(name.toLowerCase())) return fail(`column "${name}" is not available`);
      i = end;
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(where.slice(i))?.[0] ?? c;
      if (forbidden.has(word.toLowerCase())) return fail(`column "${word}" is not available`);
      i += word.length - 1;
    } else if (c === "$") {
      const digits = /^\d+/.exec(where.slice(i + 1))?.[0];
      if (!digits) return fail("dollar quoting is not allowed");
      maxParam = Math.max(maxParam, Number(digits));
      i += digits.length;
    } else if (c === "(") depth++;
    else if (c === ")") {
      if (--depth < 0) return fail("unbalanced parentheses");
    } else if ((c === "-" && next === "-") || (c === "/" && next === "*") || c === ";") {
      return fail("comments and statement separators are not allowed");
    }
  }
  if (depth !== 0) return fail("unbalanced parentheses");
  return { ok: true, maxParam };
}

/** Index of the quote closing the one at `start` (a doubled quote is an escaped one), or -1. */
function closing(text: string, start: number, quote: string): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] !== quote) continue;
    if (text[i + 1] === quote) {
      i++;
      continue;
    }
    return i;
  }
  return -1;
}
