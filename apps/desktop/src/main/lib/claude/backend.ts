import { DEMO_MODEL_NOTICE, type FakeAnthropic, startFakeAnthropic } from "@superset/fake-anthropic";
import { buildClaudeEnv, describeCredentials, getExistingClaudeCredentials } from "./auth";
import { type AppLocation, resolveClaudeExecutable } from "./binary";
import type { Logger } from "./logger";

export interface ClaudeBackend {
  /** The environment for ClaudeSessionManager. */
  env: Record<string, string>;
  executablePath: string | undefined;
  /** Set when the demo model answers instead of Claude. */
  demo: { url: string } | null;
  stop(): Promise<void>;
}

export interface ClaudeBackendOptions {
  demo: "auto" | "force" | "off";
  location: AppLocation;
  logger: Logger;
  processEnv?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
}

/**
 * Decides who answers: Claude with the user's credentials, or (when there are none, or when forced) the
 * built-in demo model on loopback, which says in every reply that it is the demo model.
 */
export async function createClaudeBackend(options: ClaudeBackendOptions): Promise<ClaudeBackend> {
  const processEnv = options.processEnv ?? process.env;
  const { logger } = options;
  const executable = resolveClaudeExecutable(options.location);
  if (executable) logger.info({ path: executable.path, source: executable.source }, "Claude Code binary");
  else logger.warn("no Claude Code binary found; the Agent SDK will look for one itself");

  const credentials =
    options.demo === "force"
      ? null
      : getExistingClaudeCredentials({ env: processEnv, platform: options.platform });
  logger.info({ credentials: describeCredentials(credentials) }, "Claude credentials");

  let demo: FakeAnthropic | null = null;
  if (!credentials) {
    if (options.demo === "off") {
      throw new Error(
        "No Claude credentials found (ANTHROPIC_API_KEY, Claude Code's credentials file or the macOS Keychain) " +
          "and SUPERSET_CLAUDE_DEMO=off: sign in with Claude Code or set ANTHROPIC_API_KEY",
      );
    }
    demo = await startFakeAnthropic();
    logger.warn(
      { url: demo.url },
      `No Claude credentials found: replies come from the built-in ${DEMO_MODEL_NOTICE}, not from Claude`,
    );
  }

  const env = buildClaudeEnv({
    credentials,
    baseEnv: processEnv,
    ...(demo
      ? {
          baseUrl: demo.url,
          extra: {
            ANTHROPIC_API_KEY: "demo-model-no-key",
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
            CLAUDE_CODE_MAX_RETRIES: "0",
          },
        }
      : {}),
  });
  return {
    env,
    executablePath: executable?.path,
    demo: demo ? { url: demo.url } : null,
    stop: async () => {
      await demo?.stop();
    },
  };
}
