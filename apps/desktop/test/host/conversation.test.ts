import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hasLocalTranscript, historyPrompt } from "../../src/main/lib/host/conversation";
import { makeSandbox } from "../support/harness";

describe("hasLocalTranscript", () => {
  const sandboxes: ReturnType<typeof makeSandbox>[] = [];
  afterEach(() => {
    for (const sandbox of sandboxes.splice(0)) sandbox.cleanup();
  });

  it("finds a transcript under any project folder of the config dir, and nothing elsewhere", () => {
    const sandbox = makeSandbox("desktop-transcript-");
    sandboxes.push(sandbox);
    const id = "3edebd1f-2447-4b0c-8a99-f35f50120d39";
    const env = { CLAUDE_CONFIG_DIR: sandbox.configDir, HOME: sandbox.home };
    expect(hasLocalTranscript(env, id)).toBe(false);
    const project = join(sandbox.configDir, "projects", "-tmp-some-workspace");
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, `${id}.jsonl`), "{}\n");
    expect(hasLocalTranscript(env, id)).toBe(true);
    expect(hasLocalTranscript(env, "5d41a525-7c46-437e-b27f-34cd19623560")).toBe(false);
    // Another device's config dir does not have it.
    expect(hasLocalTranscript({ CLAUDE_CONFIG_DIR: sandbox.home }, id)).toBe(false);
  });

  it("refuses ids that could name a path", () => {
    const sandbox = makeSandbox("desktop-transcript-");
    sandboxes.push(sandbox);
    expect(hasLocalTranscript({ CLAUDE_CONFIG_DIR: sandbox.configDir }, "../../etc/passwd")).toBe(false);
  });
});

describe("historyPrompt", () => {
  it("is the message itself when there is no history", () => {
    expect(historyPrompt([], "hello")).toBe("hello");
  });

  it("lists earlier messages oldest first with their role, cuts long ones, and ends with the new message", () => {
    const prompt = historyPrompt(
      [
        { role: "user", content: "remember zebra" },
        { role: "assistant", content: "x".repeat(5_000) },
      ],
      "what did I say",
    );
    const lines = prompt.split("\n");
    expect(lines[1]).toBe("User: remember zebra");
    expect(lines[2]).toBe(`Assistant: ${"x".repeat(4_000)} [...]`);
    expect(lines.at(-1)).toBe("what did I say");
  });
});
