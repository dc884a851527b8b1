/**
 * Offsets (PROTOCOL.md "Offsets"): opaque to clients, lexicographically sortable.
 * Ours are `<16-digit read sequence>_<16-digit byte position>`: the byte position is the
 * stream's length in bytes after the message, so offsets grow with every append.
 */
const WIDTH = 16;
const OFFSET_RE = /^\d+_\d+$/;

export const ZERO_OFFSET = formatOffset(0);

export function formatOffset(bytePosition: number, readSeq = 0): string {
  return `${String(readSeq).padStart(WIDTH, "0")}_${String(bytePosition).padStart(WIDTH, "0")}`;
}

export function isConcreteOffset(value: string): boolean {
  return OFFSET_RE.test(value);
}

/** Byte position of a concrete offset. */
export function bytePosition(offset: string): number {
  return Number(offset.slice(offset.indexOf("_") + 1));
}

/** Puts a client offset into our padded form so that string comparison orders it. */
export function normalizeOffset(offset: string): string {
  const [seq, pos] = offset.split("_");
  return formatOffset(Number(pos), Number(seq));
}

export function minOffset(a: string, b: string): string {
  return a < b ? a : b;
}
