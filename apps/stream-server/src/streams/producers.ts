import { StreamError } from "../protocol/errors";
import type { ProducerState } from "../store/types";

/** Idempotent producers (PROTOCOL.md "Idempotent producers"): (id, epoch, seq) per append. */
export interface ProducerHeaders {
  id: string;
  epoch: number;
  seq: number;
}

export type ProducerVerdict =
  | { kind: "accept"; state: ProducerState }
  | { kind: "duplicate"; lastSeq: number };

/** Accepts the next seq, reports a duplicate, or throws 403 (stale epoch), 400 or 409 (gap). */
export function validateProducer(
  state: ProducerState | undefined,
  producer: ProducerHeaders,
  now: number,
): ProducerVerdict {
  const accept = (lastSeq: number): ProducerVerdict => ({
    kind: "accept",
    state: { epoch: producer.epoch, lastSeq, lastUpdated: now },
  });
  if (!state || producer.epoch > state.epoch) {
    if (producer.seq !== 0) {
      if (state) throw new StreamError(400, "INVALID_EPOCH_SEQ", "a new epoch must start with sequence 0");
      throw gap(0, producer.seq);
    }
    return accept(0);
  }
  if (producer.epoch < state.epoch) {
    throw new StreamError(403, "STALE_EPOCH", "stale producer epoch", {
      "Producer-Epoch": String(state.epoch),
    });
  }
  if (producer.seq <= state.lastSeq) return { kind: "duplicate", lastSeq: state.lastSeq };
  if (producer.seq === state.lastSeq + 1) return accept(producer.seq);
  throw gap(state.lastSeq + 1, producer.seq);
}

function gap(expected: number, received: number): StreamError {
  return new StreamError(409, "SEQUENCE_GAP", "producer sequence gap", {
    "Producer-Expected-Seq": String(expected),
    "Producer-Received-Seq": String(received),
  });
}
