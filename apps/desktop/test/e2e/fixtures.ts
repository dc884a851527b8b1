import { join } from "node:path";
import {
  type FakeAnthropic,
  lastToolResults,
  lastUserText,
  type RecordedRequest,
  slowReply,
  startFakeAnthropic,
  textReply,
  toolUseReply,
} from "@superset/fake-anthropic";
import pino from "pino";
import { type HostOptions, type RunningHost, startHost } from "../../src/main/lib/host/host";
import { fakeModelEnv, makeSandbox } from "../support/harness";
import type { Stack } from "../support/stack";
import type { E2eUser } from "../support/users";

export const SLOW_TEXT = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");

/** The fake model's script for the end-to-end tests, keyed by words of the prompt. */
export function respond(workspace: () => string) {
  return (request: RecordedRequest) => {
    if (lastToolResults(request).length > 0) {
      const result = lastToolResults(request)[0];
      return textReply(`Tool finished (error: ${result?.is_error === true}).`);
    }
    const prompt = lastUserText(request);
    const write = /write (\S+)/.exec(prompt);
    if (write?.[1]) {
      return toolUseReply({
        name: "Write",
        input: { file_path: join(workspace(), write[1]), content: `content of ${write[1]}` },
        text: "Writing the file.",
      });
    }
    if (prompt.includes("slow please")) return slowReply(SLOW_TEXT, 100);
    return textReply(`You said: ${prompt}`, { usage: { inputTokens: 12, outputTokens: 7 } });
  };
}

export async function startFake(workspace: () => string): Promise<FakeAnthropic> {
  return startFakeAnthropic({ script: respond(workspace) });
}

/** A host in this process, on the stack, for `user`, with one workspace folder of its own. */
export async function startTestHost(
  stack: Stack,
  fake: FakeAnthropic,
  user: E2eUser,
  workspaceId: string,
  extra: Partial<HostOptions> = {},
): Promise<{ host: RunningHost; sandbox: ReturnType<typeof makeSandbox>; stop: () => Promise<void> }> {
  const sandbox = makeSandbox("desktop-host-e2e-");
  const host = await startHost({
    apiUrl: stack.api.url,
    bearer: user.bearer,
    workspaces: { [workspaceId]: sandbox.workspace },
    claudeEnv: fakeModelEnv(fake.url, sandbox),
    leaseMs: stack.leaseMs,
    // Long fallback polls: pickup and approval answers must come through the Electric shapes.
    pollMs: 600_000,
    approvalPollMs: 60_000,
    logger: pino({ level: process.env.E2E_LOG_LEVEL ?? "silent" }),
    ...extra,
  });
  return {
    host,
    sandbox,
    stop: async () => {
      await host.stop();
      sandbox.cleanup();
    },
  };
}
