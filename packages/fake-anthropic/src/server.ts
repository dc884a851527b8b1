import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { demoReply } from "./scenarios";
import { encodeEvent, inputTokensOf, messageEvents, messageObject, splitInsideCharacter } from "./sse";
import type {
  MessagesRequestBody,
  RecordedRequest,
  Responder,
  ScriptedMessage,
  ScriptedReply,
} from "./types";

const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface FakeAnthropicOptions {
  /**
   * How to answer each `POST /v1/messages`: a function of the request, or a list of replies used in order.
   * When neither is given, or the list runs out, the demo model answers.
   */
  script?: Responder | ScriptedReply[];
  /** Port on 127.0.0.1 (default 0: a free port). */
  port?: number;
  host?: string;
}

export interface FakeAnthropic {
  /** Base URL to use as ANTHROPIC_BASE_URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  /** Every `/v1/messages` request received, in order. */
  requests: RecordedRequest[];
  /** Replaces the script (requests keep their numbering). */
  setScript(script: Responder | ScriptedReply[] | undefined): void;
  stop(): Promise<void>;
}

class BadRequest extends Error {}

async function readBody(req: IncomingMessage): Promise<MessagesRequestBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest("request body too large");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.length === 0) throw new BadRequest("request body is empty");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadRequest("request body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new BadRequest("request body must be a JSON object");
  }
  const body = parsed as MessagesRequestBody;
  if (body.messages !== undefined && !Array.isArray(body.messages)) {
    throw new BadRequest("messages: must be an array");
  }
  return body;
}

function sendError(res: ServerResponse, status: number, errorType: string, message: string): void {
  res.writeHead(status, { "content-type": "application/json", "request-id": "req_fake" });
  res.end(JSON.stringify({ type: "error", error: { type: errorType, message } }));
}

async function streamMessage(
  res: ServerResponse,
  reply: ScriptedMessage,
  model: string,
  inputTokens: number,
): Promise<void> {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "request-id": "req_fake",
  });
  const events = messageEvents(reply, model, inputTokens);
  let sent = 0;
  for (const event of events) {
    if (res.destroyed) return;
    if (reply.cutAfterEvents !== undefined && sent >= reply.cutAfterEvents) {
      res.socket?.destroy();
      return;
    }
    if (reply.delayMs && sent > 0) await sleep(reply.delayMs);
    if (res.destroyed) return;
    const bytes = encodeEvent(event);
    if (reply.splitWritesInsideCharacters) {
      const [head, tail] = splitInsideCharacter(bytes);
      res.write(head);
      // Let the first half leave as its own TCP write before the rest follows.
      await sleep(1);
      if (res.destroyed) return;
      res.write(tail);
    } else {
      res.write(bytes);
    }
    sent += 1;
  }
  res.end();
}

/** Starts the fake Anthropic Messages API on loopback. */
export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  let script = options.script;

  const choose = (request: RecordedRequest, index: number): ScriptedReply => {
    if (typeof script === "function") return script(request, index);
    if (Array.isArray(script)) return script.shift() ?? demoReply(request);
    return demoReply(request);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const [path = "/", query = ""] = (req.url ?? "/").split("?", 2);
    if (req.method === "GET" && path === "/health") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true }));
      return;
    }
    if (req.method !== "POST" || (path !== "/v1/messages" && path !== "/v1/messages/count_tokens")) {
      sendError(res, 404, "not_found_error", `${req.method} ${path} is not served by the fake model`);
      return;
    }
    const body = await readBody(req);
    if (path === "/v1/messages/count_tokens") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ input_tokens: Math.ceil(JSON.stringify(body).length / 4) }));
      return;
    }
    const request: RecordedRequest = { method: req.method, path, query, headers: req.headers, body };
    const index = requests.length;
    requests.push(request);
    const reply = choose(request, index);
    if (reply.kind === "error") {
      sendError(res, reply.status, reply.errorType, reply.message);
      return;
    }
    const model = typeof body.model === "string" ? body.model : "claude-fake";
    const inputTokens = inputTokensOf(reply, body.messages);
    if (body.stream === true) {
      await streamMessage(res, reply, model, inputTokens);
    } else {
      res.writeHead(200, { "content-type": "application/json", "request-id": "req_fake" });
      res.end(JSON.stringify(messageObject(reply, model, inputTokens)));
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof BadRequest) sendError(res, 400, "invalid_request_error", error.message);
      else sendError(res, 500, "api_error", "the fake model failed to build its reply");
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    port,
    requests,
    setScript(next) {
      script = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
