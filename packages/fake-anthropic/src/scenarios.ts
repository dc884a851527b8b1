import type {
  RecordedRequest,
  RequestContentBlock,
  ScriptedBlock,
  ScriptedError,
  ScriptedMessage,
} from "./types";

export const DEMO_MODEL_NOTICE = "demo model";

/** Splits text into deltas of `size` code points (never inside a surrogate pair). */
export function chunkText(text: string, size = 3): string[] {
  const points = Array.from(text);
  const chunks: string[] = [];
  for (let i = 0; i < points.length; i += size) chunks.push(points.slice(i, i + size).join(""));
  return chunks.length > 0 ? chunks : [""];
}

function chunkJson(json: string, size: number): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < json.length; i += size) chunks.push(json.slice(i, i + size));
  return chunks;
}

export interface TextOptions {
  /** Code points per delta (default 3). Ignored when `deltas` is given. */
  chunkSize?: number;
  /** The exact deltas to send; their concatenation is the text. */
  deltas?: string[];
  usage?: { inputTokens: number; outputTokens: number };
  delayMs?: number;
  splitWritesInsideCharacters?: boolean;
}

/** A plain text answer streamed in many `text_delta`s. */
export function textReply(text: string, options: TextOptions = {}): ScriptedMessage {
  return {
    kind: "message",
    blocks: [{ type: "text", deltas: options.deltas ?? chunkText(text, options.chunkSize) }],
    stopReason: "end_turn",
    usage: options.usage,
    delayMs: options.delayMs,
    splitWritesInsideCharacters: options.splitWritesInsideCharacters,
  };
}

let toolUseCounter = 0;

/** A `tool_use` block (optionally after some text) whose input arrives in `input_json_delta`s. */
export function toolUseReply(options: {
  name: string;
  input: Record<string, unknown>;
  id?: string;
  text?: string;
  jsonChunkSize?: number;
  usage?: { inputTokens: number; outputTokens: number };
}): ScriptedMessage {
  toolUseCounter += 1;
  const id = options.id ?? `toolu_fake_${toolUseCounter.toString().padStart(6, "0")}`;
  const blocks: ScriptedBlock[] = [];
  if (options.text) blocks.push({ type: "text", deltas: chunkText(options.text) });
  blocks.push({
    type: "tool_use",
    id,
    name: options.name,
    input: options.input,
    jsonDeltas: chunkJson(JSON.stringify(options.input), options.jsonChunkSize ?? 7),
  });
  return { kind: "message", blocks, stopReason: "tool_use", usage: options.usage };
}

/** A thinking block (with a signature) followed by a text answer. */
export function thinkingReply(thinking: string, text: string): ScriptedMessage {
  return {
    kind: "message",
    blocks: [
      { type: "thinking", deltas: chunkText(thinking, 5), signature: "fake-signature" },
      { type: "text", deltas: chunkText(text) },
    ],
    stopReason: "end_turn",
  };
}

/** An API error response (JSON body in the Anthropic error format). */
export function errorReply(status: number, message: string, errorType = errorTypeFor(status)): ScriptedError {
  return { kind: "error", status, errorType, message };
}

function errorTypeFor(status: number): string {
  if (status === 400) return "invalid_request_error";
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status === 529) return "overloaded_error";
  return "api_error";
}

/** A stream that waits `delayMs` before every event: long enough to interrupt it. */
export function slowReply(text: string, delayMs: number, chunkSize = 2): ScriptedMessage {
  return { ...textReply(text, { chunkSize }), delayMs };
}

/** A stream whose connection is destroyed after `afterEvents` SSE events. */
export function cutReply(text: string, afterEvents: number): ScriptedMessage {
  return { ...textReply(text), cutAfterEvents: afterEvents };
}

/** The reply of the demo model: it says plainly what it is. */
export function demoReply(request: RecordedRequest): ScriptedMessage {
  const prompt = lastUserText(request).trim();
  const quoted = prompt.length > 80 ? `${Array.from(prompt).slice(0, 80).join("")}…` : prompt;
  return textReply(
    `[${DEMO_MODEL_NOTICE}] No Claude credentials were found on this machine, so this reply comes from the ` +
      `built-in ${DEMO_MODEL_NOTICE}, not from Claude. You said: "${quoted}". Sign in to Claude Code or set ` +
      "ANTHROPIC_API_KEY to talk to the real model.",
    { chunkSize: 4 },
  );
}

function contentBlocks(content: string | RequestContentBlock[]): RequestContentBlock[] {
  return typeof content === "string" ? [{ type: "text", text: content }] : content;
}

/**
 * The last text block of the last user message that carries text (tool results and system reminders are
 * skipped). Claude Code may merge consecutive user turns into one message: the last block is the newest prompt.
 */
export function lastUserText(request: RecordedRequest): string {
  const messages = request.body.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.role !== "user") continue;
    const texts = contentBlocks(message.content)
      .filter((block) => block.type === "text" && typeof block.text === "string")
      .map((block) => block.text as string)
      .filter((text) => !text.startsWith("<system-reminder>"));
    const last = texts.at(-1);
    if (last !== undefined) return last;
  }
  return "";
}

/** The `tool_result` blocks of the request's last message (what a tool turn's follow-up carries). */
export function lastToolResults(request: RecordedRequest): RequestContentBlock[] {
  const last = request.body.messages?.at(-1);
  if (last?.role !== "user") return [];
  return contentBlocks(last.content).filter((block) => block.type === "tool_result");
}
