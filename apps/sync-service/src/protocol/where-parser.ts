import { badRequest } from "./errors";

/**
 * Parses a shape's where clause into a tree. The grammar is a deliberately
 * small subset of Postgres boolean expressions (README "Where clauses"):
 *
 *   or        := and ("OR" and)*
 *   and       := not ("AND" not)*
 *   not       := "NOT" not | predicate
 *   predicate := "(" or ")" | operand [ cmp operand | ["NOT"] "IN" "(" operand ("," operand)* ")"
 *                | "IS" ["NOT"] "NULL" | ["NOT"] ("LIKE" | "ILIKE") operand ]
 *   operand   := column | 'string' | number | TRUE | FALSE | NULL | $n
 *
 * Anything outside it is refused with a message naming what was found.
 */

export type Operand =
  | { t: "col"; name: string }
  | { t: "str"; value: string }
  | { t: "num"; value: string }
  | { t: "bool"; value: boolean }
  | { t: "null" }
  | { t: "param"; index: number };

export type CmpOp = "=" | "<>" | "<" | "<=" | ">" | ">=";

export type WhereExpr =
  | { t: "and" | "or"; l: WhereExpr; r: WhereExpr }
  | { t: "not"; e: WhereExpr }
  | { t: "cmp"; op: CmpOp; l: Operand; r: Operand }
  | { t: "in"; e: Operand; list: Operand[]; negated: boolean }
  | { t: "isnull"; e: Operand; negated: boolean }
  | { t: "like"; e: Operand; pattern: Operand; negated: boolean; insensitive: boolean }
  | { t: "ref"; e: Operand };

type Token =
  | { k: "ident"; v: string; quoted: boolean; pos: number }
  | { k: "str"; v: string; pos: number }
  | { k: "num"; v: string; pos: number }
  | { k: "param"; v: number; pos: number }
  | { k: "op"; v: string; pos: number }
  | { k: "punct"; v: "(" | ")" | ","; pos: number }
  | { k: "other"; v: string; pos: number };

const MAX_WHERE_LENGTH = 8192;
const MAX_DEPTH = 64;
const KEYWORDS = new Set(["and", "or", "not", "in", "is", "null", "like", "ilike", "true", "false"]);

function unsupported(what: string): never {
  throw badRequest(`unsupported in where clause: ${what}`, "unsupported_where");
}

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const startsOperand = () => {
    const prev = tokens.at(-1);
    return (
      !prev ||
      prev.k === "op" ||
      (prev.k === "punct" && prev.v !== ")") ||
      (prev.k === "ident" && !prev.quoted && KEYWORDS.has(prev.v))
    );
  };
  while (i < input.length) {
    const c = input[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const pos = i;
    if (c === "'" || c === '"') {
      // A quoted string or identifier; the quote character doubled stands for itself.
      const what = c === "'" ? "string" : "identifier";
      let value = "";
      i++;
      for (;;) {
        if (i >= input.length)
          throw badRequest(`unterminated ${what} starting at position ${pos + 1}`, "invalid_where");
        if (input[i] === c) {
          if (input[i + 1] === c) {
            value += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += input[i];
        i++;
      }
      tokens.push(c === "'" ? { k: "str", v: value, pos } : { k: "ident", v: value, quoted: true, pos });
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(input.slice(i));
      const word = match?.[0] ?? c;
      i += word.length;
      tokens.push({ k: "ident", v: word.toLowerCase(), quoted: false, pos });
    } else if (
      /\d/.test(c) ||
      (c === "-" && /[\d.]/.test(input[i + 1] ?? "") && startsOperand()) ||
      (c === "." && /\d/.test(input[i + 1] ?? ""))
    ) {
      const match = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?/i.exec(input.slice(i));
      const num = match?.[0] ?? c;
      i += num.length;
      tokens.push({ k: "num", v: num, pos });
    } else if (c === "$") {
      const match = /^\$(\d{1,4})/.exec(input.slice(i));
      if (!match) unsupported(`"$" at position ${pos + 1} (parameters are $1, $2, ...)`);
      i += match[0].length;
      tokens.push({ k: "param", v: Number(match[1]), pos });
    } else if (c === "(" || c === ")" || c === ",") {
      i++;
      tokens.push({ k: "punct", v: c, pos });
    } else {
      const two = input.slice(i, i + 2);
      if (["<=", ">=", "<>", "!="].includes(two)) {
        i += 2;
        tokens.push({ k: "op", v: two === "!=" ? "<>" : two, pos });
      } else if (c === "=" || c === "<" || c === ">") {
        i++;
        tokens.push({ k: "op", v: c, pos });
      } else {
        const match = /^(::|\|\||[^\sA-Za-z0-9_'"$(),]+)/.exec(input.slice(i));
        const text = match?.[0] ?? c;
        i += text.length;
        tokens.push({ k: "other", v: text, pos });
      }
    }
  }
  return tokens;
}

function describe(token: Token | undefined): string {
  if (!token) return "end of input";
  switch (token.k) {
    case "str":
      return `string '${token.v}'`;
    case "param":
      return `$${token.v}`;
    case "ident":
      return token.quoted ? `"${token.v}"` : token.v;
    case "other":
      return `"${token.v}" at position ${token.pos + 1}`;
    default:
      return `"${token.v}" at position ${token.pos + 1}`;
  }
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private isKeyword(word: string, token = this.peek()): boolean {
    return token?.k === "ident" && !token.quoted && token.v === word;
  }

  private eatKeyword(word: string): boolean {
    if (!this.isKeyword(word)) return false;
    this.i++;
    return true;
  }

  private expectPunct(v: "(" | ")" | ","): void {
    const token = this.peek();
    if (token?.k !== "punct" || token.v !== v)
      throw badRequest(`expected "${v}" but found ${describe(token)}`, "invalid_where");
    this.i++;
  }

  parse(): WhereExpr {
    const expr = this.or();
    const rest = this.peek();
    if (rest) this.unexpected(rest);
    return expr;
  }

  private unexpected(token: Token | undefined): never {
    if (token?.k === "other") unsupported(`operator ${describe(token)}`);
    if (token?.k === "ident" && !token.quoted) {
      const word = token.v;
      if (
        ["between", "any", "all", "some", "exists", "select", "similar", "case", "cast", "is"].includes(word)
      ) {
        unsupported(`${word.toUpperCase()} at position ${token.pos + 1}`);
      }
    }
    throw badRequest(`unexpected ${describe(token)}`, "invalid_where");
  }

  private or(): WhereExpr {
    let left = this.and();
    while (this.eatKeyword("or")) left = { t: "or", l: left, r: this.and() };
    return left;
  }

  private and(): WhereExpr {
    let left = this.not();
    while (this.eatKeyword("and")) left = { t: "and", l: left, r: this.not() };
    return left;
  }

  private not(): WhereExpr {
    if (++this.depth > MAX_DEPTH) throw badRequest("where clause is nested too deeply", "invalid_where");
    try {
      if (this.eatKeyword("not")) return { t: "not", e: this.not() };
      return this.predicate();
    } finally {
      this.depth--;
    }
  }

  private predicate(): WhereExpr {
    const token = this.peek();
    if (token?.k === "punct" && token.v === "(") {
      this.i++;
      const inner = this.or();
      this.expectPunct(")");
      return inner;
    }
    const left = this.operand();
    const next = this.peek();
    if (next?.k === "op") {
      this.i++;
      return { t: "cmp", op: next.v as CmpOp, l: left, r: this.operand() };
    }
    let negated = false;
    if (
      this.isKeyword("not") &&
      (this.isKeyword("in", this.tokens[this.i + 1]) ||
        this.isKeyword("like", this.tokens[this.i + 1]) ||
        this.isKeyword("ilike", this.tokens[this.i + 1]))
    ) {
      this.i++;
      negated = true;
    }
    if (this.eatKeyword("in")) {
      this.expectPunct("(");
      const list = [this.operand()];
      while (this.peek()?.k === "punct" && this.peek()?.v === ",") {
        this.i++;
        list.push(this.operand());
      }
      this.expectPunct(")");
      return { t: "in", e: left, list, negated };
    }
    if (this.isKeyword("like") || this.isKeyword("ilike")) {
      const insensitive = this.isKeyword("ilike");
      this.i++;
      return { t: "like", e: left, pattern: this.operand(), negated, insensitive };
    }
    if (this.isKeyword("is")) {
      this.i++;
      const isNegated = this.eatKeyword("not");
      if (!this.eatKeyword("null"))
        unsupported(`IS ${isNegated ? "NOT " : ""}${describe(this.peek())} (only IS [NOT] NULL)`);
      return { t: "isnull", e: left, negated: isNegated };
    }
    return { t: "ref", e: left };
  }

  private operand(): Operand {
    const token = this.peek();
    if (!token) throw badRequest("where clause ends too early", "invalid_where");
    switch (token.k) {
      case "str":
        this.i++;
        return { t: "str", value: token.v };
      case "num":
        this.i++;
        return { t: "num", value: token.v };
      case "param":
        this.i++;
        if (token.v < 1) throw badRequest("parameters are numbered from $1", "invalid_where");
        return { t: "param", index: token.v };
      case "ident":
        if (!token.quoted) {
          if (token.v === "true" || token.v === "false") {
            this.i++;
            return { t: "bool", value: token.v === "true" };
          }
          if (token.v === "null") {
            this.i++;
            return { t: "null" };
          }
          if (KEYWORDS.has(token.v)) this.unexpected(token);
        }
        this.i++;
        if (this.peek()?.k === "punct" && this.peek()?.v === "(")
          unsupported(`function call ${token.v}(...)`);
        if (this.peek()?.k === "other" && this.peek()?.v === ".")
          unsupported(`qualified column name ${describe(token)}.`);
        return { t: "col", name: token.v };
      default:
        return this.unexpected(token);
    }
  }
}

export function parseWhere(input: string): WhereExpr {
  if (input.length > MAX_WHERE_LENGTH)
    throw badRequest(`where clause is longer than ${MAX_WHERE_LENGTH} characters`, "invalid_where");
  if (input.trim() === "") throw badRequest("where clause is empty", "invalid_where");
  return new Parser(tokenize(input)).parse();
}
