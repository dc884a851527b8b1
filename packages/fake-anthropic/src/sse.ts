import { randomUUID } from "node:crypto";
import type { ScriptedBlock, ScriptedMessage } from "./types";

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function blockText(block: ScriptedBlock): string {
  if (block.type === "tool_use") return JSON.stringify(block.input);
  return block.deltas.join("");
}

export function outputTokensOf(message: ScriptedMessage): number {
  return message.usage?.outputTokens ?? estimateTokens(message.blocks.map(blockText).join(""));
}

export function inputTokensOf(message: ScriptedMessage, requestBody: unknown): number {
  return message.usage?.inputTokens ?? estimateTokens(JSON.stringify(requestBody ?? ""));
}

function startBlock(block: ScriptedBlock): Record<string, unknown> {
  if (block.type === "text") return { type: "text", text: "" };
  if (block.type === "thinking") return { type: "thinking", thinking: "", signature: "" };
  return { type: "tool_use", id: block.id, name: block.name, input: {} };
}

function blockDeltas(block: ScriptedBlock): Record<string, unknown>[] {
  if (block.type === "text") return block.deltas.map((text) => ({ type: "text_delta", text }));
  if (block.type === "thinking") {
    return [
      ...block.deltas.map((thinking) => ({ type: "thinking_delta", thinking })),
      { type: "signature_delta", signature: block.signature },
    ];
  }
  return block.jsonDeltas.map((partial_json) => ({ type: "input_json_delta", partial_json }));
}

/** The complete Messages API event sequence for one scripted message, in wire order. */
export function messageEvents(message: ScriptedMessage, model: string, inputTokens: number): SseEvent[] {
  const events: SseEvent[] = [
    {
      event: "message_start",
      data: {
        type: "message_start",
        message: {
          id: `msg_fake_${randomUUID().replaceAll("-", "")}`,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: inputTokens,
            output_tokens: 1,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
          },
        },
      },
    },
    { event: "ping", data: { type: "ping" } },
  ];
  message.blocks.forEach((block, index) => {
    events.push({
      event: "content_block_start",
      data: { type: "content_block_start", index, content_block: startBlock(block) },
    });
    for (const delta of blockDeltas(block)) {
      events.push({ event: "content_block_delta", data: { type: "content_block_delta", index, delta } });
    }
    events.push({ event: "content_block_stop", data: { type: "content_block_stop", index } });
  });
  events.push({
    event: "message_delta",
    data: {
      type: "message_delta",
      delta: { stop_reason: message.stopReason, stop_sequence: null },
      usage: { output_tokens: outputTokensOf(message) },
    },
  });
  events.push({ event: "message_stop", data: { type: "message_stop" } });
  return events;
}

/** The non-streaming equivalent (a whole Message object). */
export function messageObject(message: ScriptedMessage, model: string, inputTokens: number) {
  return {
    id: `msg_fake_${randomUUID().replaceAll("-", "")}`,
    type: "message",
    role: "assistant",
    model,
    content: message.blocks.map((block) => {
      if (block.type === "text") return { type: "text", text: block.deltas.join("") };
      if (block.type === "thinking") {
        return { type: "thinking", thinking: block.deltas.join(""), signature: block.signature };
      }
      return { type: "tool_use", id: block.id, name: block.name, input: block.input };
    }),
    stop_reason: message.stopReason,
    stop_sequence: null,
    usage: { input_tokens: inputTokens, output_tokens: outputTokensOf(message) },
  };
}

export function encodeEvent(event: SseEvent): Buffer {
  return Buffer.from(`event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`, "utf8");
}

/** Splits an encoded event inside its first multi-byte UTF-8 sequence, or in the middle if it has none. */
export function splitInsideCharacter(bytes: Buffer): [Buffer, Buffer] {
  const lead = bytes.findIndex((byte) => byte >= 0xc0);
  const at = lead >= 0 ? lead + 1 : Math.floor(bytes.length / 2);
  return [bytes.subarray(0, at), bytes.subarray(at)];
}
