import { badRequest } from "./errors";

/**
 * Log offsets, `<tx>_<op>` as Electric writes them. `tx` is the commit LSN of
 * the transaction (as a decimal number) and `op` the 1-based position of the
 * change in that transaction's part of the shape log; snapshot rows sit at
 * tx 0. `-1` is before everything, `0_inf` the end of the snapshot.
 *
 * A request at offset O gets every entry strictly after O. In SSE mode the
 * client resumes from `${global_last_seen_lsn}_0`: op numbers start at 1 so
 * that `L_0` is "before every change of a transaction committed at L or later".
 */
export interface Offset {
  tx: bigint;
  /** `Infinity` only for `0_inf`; -1 for the `-1` offset. */
  op: number;
}

export const BEFORE_ALL: Offset = { tx: -1n, op: 0 };
export const SNAPSHOT_END: Offset = { tx: 0n, op: Number.POSITIVE_INFINITY };

const OFFSET_RE = /^(\d{1,20})_(\d{1,10}|inf)$/;

export function parseOffset(text: string): Offset {
  if (text === "-1") return BEFORE_ALL;
  const match = OFFSET_RE.exec(text);
  if (!match) throw badRequest(`offset "${text}" is not -1, now or <lsn>_<op>`, "invalid_offset");
  const [, tx = "0", op = "0"] = match;
  return { tx: BigInt(tx), op: op === "inf" ? Number.POSITIVE_INFINITY : Number(op) };
}

export function formatOffset(offset: Offset): string {
  if (offset.tx < 0n) return "-1";
  return `${offset.tx}_${offset.op === Number.POSITIVE_INFINITY ? "inf" : offset.op}`;
}

export function compareOffsets(a: Offset, b: Offset): number {
  if (a.tx !== b.tx) return a.tx < b.tx ? -1 : 1;
  if (a.op === b.op) return 0;
  return a.op < b.op ? -1 : 1;
}

/** "16/B374D848" → 0x16B374D848. */
export function lsnToBigInt(lsn: string): bigint {
  const [hi = "0", lo = "0"] = lsn.split("/");
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

export function bigIntToLsn(value: bigint): string {
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}
