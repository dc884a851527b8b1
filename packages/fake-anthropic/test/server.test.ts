import Anthropic from "@anthropic-ai/sdk";
import { afterEach, describe, expect, it } from "vitest";
import {
  cutReply,
  DEMO_MODEL_NOTICE,
  errorReply,
  type FakeAnthropic,
  lastToolResults,
  lastUserText,
  startFakeAnthropic,
  textReply,
  thinkingReply,
  toolUseReply,
} from "../src/index";

let fake: FakeAnthropic | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

function client(url: string) {
  return new Anthropic({ baseURL: url, apiKey: "test-key", maxRetries: 0 });
}

async function collect(stream: AsyncIterable<Anthropic.RawMessageStreamEvent>) {
  const events: Anthropic.RawMessageStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

const ask = { model: "claude-fake", max_tokens: 100 } as const;

describe("fake Anthropic Messages API", () => {
  it("streams text in many deltas that join to the scripted text, with unicode split across deltas", async () => {
    const text = "Grüße 👋🏽 from 東京 — 🇫🇷👩‍👩‍👧 done";
    fake = await startFakeAnthropic({
      script: [textReply(text, { chunkSize: 1, splitWritesInsideCharacters: true })],
    });
    const events = await collect(
      await client(fake.url).messages.create({
        ...ask,
        stream: true,
        messages: [{ role: "user", content: "hi" }],
      }),
    );
    const deltas = events.flatMap((e) =>
      e.type === "content_block_delta" && e.delta.type === "text_delta" ? [e.delta.text] : [],
    );
    expect(deltas.length).toBe(Array.from(text).length);
    // A flag and a ZWJ family are several code points: they arrive split across deltas.
    expect(deltas).toContain("🇫");
    expect(deltas.join("")).toBe(text);
    expect(events[0]?.type).toBe("message_start");
    expect(events.at(-1)?.type).toBe("message_stop");
  });

  it("records each request so tests can assert what the client sent", async () => {
    fake = await startFakeAnthropic({ script: [textReply("ok")] });
    await client(fake.url).messages.create({ ...ask, messages: [{ role: "user", content: "remember me" }] });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.path).toBe("/v1/messages");
    expect(lastUserText(fake.requests[0] as never)).toBe("remember me");
    const headers = fake.requests[0]?.headers ?? {};
    expect(headers["x-api-key"] ?? headers.authorization).toMatch(/test-key/);
  });

  it("streams a tool_use whose input arrives in input_json_deltas, then answers the follow-up carrying the result", async () => {
    fake = await startFakeAnthropic({
      script: (request) =>
        lastToolResults(request).length > 0
          ? textReply("the file says hello")
          : toolUseReply({ name: "Read", input: { file_path: "/tmp/x.txt" }, text: "Reading." }),
    });
    const anthropic = client(fake.url);
    const stream = anthropic.messages.stream({ ...ask, messages: [{ role: "user", content: "read it" }] });
    const jsonDeltas: string[] = [];
    stream.on("inputJson", (partial) => jsonDeltas.push(partial));
    const first = await stream.finalMessage();
    expect(first.stop_reason).toBe("tool_use");
    const toolUse = first.content.find((block) => block.type === "tool_use");
    expect(toolUse?.type === "tool_use" && toolUse.input).toEqual({ file_path: "/tmp/x.txt" });
    expect(jsonDeltas.length).toBeGreaterThan(1);

    const second = await anthropic.messages.create({
      ...ask,
      messages: [
        { role: "user", content: "read it" },
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: toolUse?.id ?? "", content: "hello" }],
        },
      ],
    });
    expect(second.content[0]?.type === "text" && second.content[0].text).toBe("the file says hello");
    expect(lastToolResults(fake.requests[1] as never)[0]?.content).toBe("hello");
  });

  it("streams thinking blocks with a signature", async () => {
    fake = await startFakeAnthropic({ script: [thinkingReply("Let me think about it.", "42")] });
    const message = await client(fake.url)
      .messages.stream({ ...ask, messages: [{ role: "user", content: "q" }] })
      .finalMessage();
    expect(message.content[0]).toMatchObject({
      type: "thinking",
      thinking: "Let me think about it.",
      signature: "fake-signature",
    });
    expect(message.content[1]).toMatchObject({ type: "text", text: "42" });
  });

  it("answers an API error in the Anthropic error format", async () => {
    fake = await startFakeAnthropic({ script: [errorReply(529, "Overloaded, try later")] });
    const error = await client(fake.url)
      .messages.create({ ...ask, messages: [{ role: "user", content: "q" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect(String((error as Error).message)).toContain("Overloaded, try later");
  });

  it("cuts a stream mid-way, which the client sees as a failure", async () => {
    fake = await startFakeAnthropic({ script: [cutReply("this will never finish", 4)] });
    const stream = client(fake.url).messages.stream({ ...ask, messages: [{ role: "user", content: "q" }] });
    await expect(stream.finalMessage()).rejects.toThrow();
  });

  it("answers with the demo model when no script is given, and says so", async () => {
    fake = await startFakeAnthropic();
    const message = await client(fake.url)
      .messages.stream({ ...ask, messages: [{ role: "user", content: "who are you?" }] })
      .finalMessage();
    const text = message.content[0]?.type === "text" ? message.content[0].text : "";
    expect(text).toContain(DEMO_MODEL_NOTICE);
    expect(text).toContain("who are you?");
  });

  it("rejects a malformed body with a 400 and a clear message", async () => {
    fake = await startFakeAnthropic();
    const response = await fetch(`${fake.url}/v1/messages`, { method: "POST", body: "{not json" });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: "request body is not valid JSON" },
    });
    expect((await fetch(`${fake.url}/v1/other`, { method: "POST", body: "{}" })).status).toBe(404);
    expect((await fetch(`${fake.url}/health`)).status).toBe(200);
  });
});
