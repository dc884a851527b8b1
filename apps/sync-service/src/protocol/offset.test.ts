import { describe, expect, it } from "vitest";
import {
  BEFORE_ALL,
  bigIntToLsn,
  compareOffsets,
  formatOffset,
  lsnToBigInt,
  parseOffset,
  SNAPSHOT_END,
} from "./offset";

describe("offsets", () => {
  it("round-trips -1, 0_inf and <lsn>_<op>", () => {
    for (const text of ["-1", "0_inf", "0_0", "123456789_17"])
      expect(formatOffset(parseOffset(text))).toBe(text);
  });

  it("orders the snapshot before every change and 0_inf after every snapshot row", () => {
    expect(compareOffsets(BEFORE_ALL, parseOffset("0_0"))).toBe(-1);
    expect(compareOffsets(parseOffset("0_99999"), SNAPSHOT_END)).toBe(-1);
    expect(compareOffsets(SNAPSHOT_END, parseOffset("1_1"))).toBe(-1);
    expect(compareOffsets(parseOffset("10_2"), parseOffset("10_10"))).toBe(-1);
    expect(compareOffsets(parseOffset("9_99"), parseOffset("10_0"))).toBe(-1);
  });

  it("rejects anything else with a 400", () => {
    for (const text of ["", "abc", "1_", "_1", "-2", "1_2_3", "1_-1"]) {
      expect(() => parseOffset(text)).toThrowError(expect.objectContaining({ status: 400 }));
    }
  });

  it("converts LSNs both ways", () => {
    expect(lsnToBigInt("16/B374D848")).toBe(0x16b374d848n);
    expect(bigIntToLsn(0x16b374d848n)).toBe("16/B374D848");
  });
});
