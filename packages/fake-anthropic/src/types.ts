/** One content block the fake model will stream, with the exact deltas it sends. */
export type ScriptedBlock =
  | { type: "text"; deltas: string[] }
  | { type: "thinking"; deltas: string[]; signature: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown>; jsonDeltas: string[] };

export interface ScriptedMessage {
  kind: "message";
  blocks: ScriptedBlock[];
  stopReason: "end_turn" | "tool_use" | "max_tokens";
  /** Usage reported in message_start (input) and message_delta (output). Defaults are derived from sizes. */
  usage?: { inputTokens: number; outputTokens: number };
  /** Pause before each SSE event after message_start (a slow stream). */
  delayMs?: number;
  /** Destroy the connection after this many SSE events (a stream cut mid-way). */
  cutAfterEvents?: number;
  /** Write each event in two TCP writes split inside a multi-byte UTF-8 character where one exists. */
  splitWritesInsideCharacters?: boolean;
}

export interface ScriptedError {
  kind: "error";
  status: number;
  errorType: string;
  message: string;
}

export type ScriptedReply = ScriptedMessage | ScriptedError;

/** A request as the fake model received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/messages`. */
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: MessagesRequestBody;
}

export interface MessagesRequestBody {
  model?: string;
  stream?: boolean;
  system?: unknown;
  messages?: RequestMessage[];
  tools?: { name: string }[];
  [key: string]: unknown;
}

export interface RequestMessage {
  role: string;
  content: string | RequestContentBlock[];
}

export type RequestContentBlock = { type: string; [key: string]: unknown };

/** Chooses the reply for one request. `index` counts the /v1/messages requests received so far (0-based). */
export type Responder = (request: RecordedRequest, index: number) => ScriptedReply;
