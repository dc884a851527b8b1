import type { Database } from "@superset/db/client";
import { sql } from "drizzle-orm";

/** A drizzle transaction of the chat database. */
export type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];
/** The database itself or a transaction on it. */
export type Executor = Database | Tx;

/**
 * The id of the running transaction, as Electric reports it in `headers.txids`
 * (TanStack DB's awaitTxId). Call it only in a transaction that writes: it
 * assigns an xid when there is none yet.
 */
export async function currentTxid(tx: Tx): Promise<string> {
  const result = await tx.execute<{ txid: string }>(sql`select pg_current_xact_id()::xid::text as txid`);
  const txid = result.rows[0]?.txid;
  if (!txid) throw new Error("pg_current_xact_id returned nothing");
  return txid;
}

/** Who acts: a member of an organization (a device acts for its owner). */
export interface Actor {
  userId: string;
  organizationId: string;
}
