import { badRequest } from "../protocol/errors";

/** What identifies a shape: two requests with equal definitions share one shape. */
export interface ShapeDefinition {
  schema: string;
  table: string;
  where: string | null;
  params: string[];
  columns: string[] | null;
  replica: "default" | "full";
  log: "full" | "changes_only";
}

const IDENT = /^(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*))/;

function readIdent(text: string): [string, string] {
  const match = IDENT.exec(text);
  if (!match) throw badRequest(`invalid table name`, "invalid_table");
  const name = match[1] !== undefined ? match[1].replaceAll('""', '"') : (match[2] as string).toLowerCase();
  return [name, text.slice(match[0].length)];
}

/** `items`, `public.items`, `"My Schema"."Items"`. */
export function parseTableName(text: string): { schema: string; table: string } {
  const [first, rest] = readIdent(text.trim());
  if (rest === "") return { schema: "public", table: first };
  if (!rest.startsWith(".")) throw badRequest(`invalid table name "${text}"`, "invalid_table");
  const [second, tail] = readIdent(rest.slice(1));
  if (tail !== "") throw badRequest(`invalid table name "${text}"`, "invalid_table");
  return { schema: first, table: second };
}

/** `id,title,"Mixed"`. */
export function parseColumns(text: string): string[] {
  const columns: string[] = [];
  let rest = text.trim();
  while (rest.length > 0) {
    const [name, tail] = readIdent(rest);
    columns.push(name);
    rest = tail.trim();
    if (rest.startsWith(",")) rest = rest.slice(1).trim();
    else if (rest.length > 0) throw badRequest(`invalid columns "${text}"`, "invalid_columns");
  }
  if (columns.length === 0) throw badRequest("columns is empty", "invalid_columns");
  return columns;
}

export const definitionKey = (def: ShapeDefinition) => JSON.stringify(def);
