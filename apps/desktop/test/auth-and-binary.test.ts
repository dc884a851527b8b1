import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  buildClaudeEnv,
  describeCredentials,
  getExistingClaudeCredentials,
  KEYCHAIN_SERVICE,
} from "../src/main/lib/claude/auth";
import {
  detectClaudePlatform,
  getBundledClaudeBinaryPath,
  getSdkPackageClaudeBinaryPath,
  resolveClaudeExecutable,
} from "../src/main/lib/claude/binary";
import { makeSandbox, memoryLogger } from "./support/harness";

let sandbox: ReturnType<typeof makeSandbox>;
beforeEach(() => {
  sandbox = makeSandbox("claude-auth-");
});
afterEach(() => sandbox.cleanup());

const OAUTH_FILE_TOKEN = "sk-ant-oat01-from-file";
const OAUTH_KEYCHAIN_TOKEN = "sk-ant-oat01-from-keychain";

function writeCredentialsFile(dir: string, token = OAUTH_FILE_TOKEN, expiresAt = Date.now() + 3_600_000) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, ".credentials.json"),
    JSON.stringify({ claudeAiOauth: { accessToken: token, expiresAt } }),
  );
}

/** A `security` command on PATH that answers like the macOS Keychain (and records that it ran). */
function fakeSecurityCommand(): string {
  const bin = join(sandbox.root, "fake-bin");
  mkdirSync(bin);
  const script = join(bin, "security");
  writeFileSync(
    script,
    `#!/bin/sh\necho "$@" > "${join(sandbox.root, "security-args")}"\n` +
      `[ "$1" = find-generic-password ] && [ "$3" = "${KEYCHAIN_SERVICE}" ] || exit 44\n` +
      `echo '${JSON.stringify({ claudeAiOauth: { accessToken: OAUTH_KEYCHAIN_TOKEN, expiresAt: 4102444800000 } })}'\n`,
  );
  chmodSync(script, 0o755);
  return `${bin}:/usr/bin:/bin`;
}

describe("getExistingClaudeCredentials", () => {
  it("prefers ANTHROPIC_API_KEY over everything else", () => {
    writeCredentialsFile(join(sandbox.home, ".claude"));
    const credentials = getExistingClaudeCredentials({
      env: { HOME: sandbox.home, ANTHROPIC_API_KEY: "sk-ant-api-key" },
      platform: "linux",
    });
    expect(credentials).toEqual({ source: "env", kind: "api_key", apiKey: "sk-ant-api-key" });
  });

  it("reads Claude Code's credentials file from ~/.claude or CLAUDE_CONFIG_DIR", () => {
    writeCredentialsFile(join(sandbox.home, ".claude"));
    expect(getExistingClaudeCredentials({ env: { HOME: sandbox.home }, platform: "linux" })).toMatchObject({
      source: "credentials_file",
      kind: "oauth",
      accessToken: OAUTH_FILE_TOKEN,
    });
    writeCredentialsFile(sandbox.configDir, "sk-ant-oat01-config-dir");
    expect(
      getExistingClaudeCredentials({
        env: { HOME: sandbox.home, CLAUDE_CONFIG_DIR: sandbox.configDir },
        platform: "linux",
      }),
    ).toMatchObject({ accessToken: "sk-ant-oat01-config-dir" });
  });

  it("falls back to the macOS Keychain through the security command", () => {
    const PATH = fakeSecurityCommand();
    expect(getExistingClaudeCredentials({ env: { HOME: sandbox.home, PATH }, platform: "darwin" })).toEqual({
      source: "keychain",
      kind: "oauth",
      accessToken: OAUTH_KEYCHAIN_TOKEN,
      expiresAt: 4102444800000,
    });
    // The file wins over the Keychain; other platforms never ask the Keychain.
    writeCredentialsFile(join(sandbox.home, ".claude"));
    expect(
      getExistingClaudeCredentials({ env: { HOME: sandbox.home, PATH }, platform: "darwin" })?.source,
    ).toBe("credentials_file");
    expect(getExistingClaudeCredentials({ env: { HOME: sandbox.root, PATH }, platform: "linux" })).toBeNull();
  });

  it("returns null when there are none, and skips a malformed file", () => {
    expect(
      getExistingClaudeCredentials({ env: { HOME: sandbox.home, PATH: "/usr/bin:/bin" }, platform: "linux" }),
    ).toBeNull();
    mkdirSync(join(sandbox.home, ".claude"));
    writeFileSync(join(sandbox.home, ".claude", ".credentials.json"), "{not json");
    expect(getExistingClaudeCredentials({ env: { HOME: sandbox.home }, platform: "linux" })).toBeNull();
  });
});

describe("buildClaudeEnv", () => {
  it("passes PATH and HOME, the credentials, and nothing else from the parent environment", () => {
    const env = buildClaudeEnv({
      credentials: { source: "env", kind: "api_key", apiKey: "sk-ant-api-key" },
      baseEnv: { PATH: "/p", HOME: "/h", SOME_OTHER_SECRET: "x", ANTHROPIC_API_KEY: "ignored" },
      configDir: "/cfg",
    });
    expect(env).toMatchObject({
      PATH: "/p",
      HOME: "/h",
      ANTHROPIC_API_KEY: "sk-ant-api-key",
      CLAUDE_CONFIG_DIR: "/cfg",
    });
    expect(env.DISABLE_AUTOUPDATER).toBe("1");
    expect(env.SOME_OTHER_SECRET).toBeUndefined();
  });

  it("passes an OAuth token unless it has expired (Claude Code then refreshes it itself)", () => {
    const base = { PATH: "/p", HOME: "/h" };
    const fresh = buildClaudeEnv({
      credentials: { source: "keychain", kind: "oauth", accessToken: "tok", expiresAt: Date.now() + 60_000 },
      baseEnv: base,
    });
    expect(fresh.CLAUDE_CODE_OAUTH_TOKEN).toBe("tok");
    expect(fresh.ANTHROPIC_API_KEY).toBeUndefined();
    const expired = buildClaudeEnv({
      credentials: { source: "keychain", kind: "oauth", accessToken: "tok", expiresAt: Date.now() - 1 },
      baseEnv: base,
    });
    expect(expired.CLAUDE_CODE_OAUTH_TOKEN).toBeUndefined();
  });

  it("never lets a secret reach the logs", () => {
    const { logger, lines } = memoryLogger();
    const credentials = { source: "env", kind: "api_key", apiKey: "sk-ant-very-secret" } as const;
    logger.info(
      { credentials: describeCredentials(credentials), env: buildClaudeEnv({ credentials }) },
      "start",
    );
    logger.info({ apiKey: credentials.apiKey, nested: { accessToken: "sk-ant-oat01-secret" } }, "oops");
    const text = lines.join("");
    expect(text).toContain("api_key from env");
    expect(text).not.toContain("sk-ant-very-secret");
    expect(text).not.toContain("sk-ant-oat01-secret");
  });
});

describe("Claude binary location", () => {
  it("detects the four release platforms and refuses others", () => {
    expect(detectClaudePlatform("darwin", "arm64")).toBe("darwin-arm64");
    expect(detectClaudePlatform("darwin", "x64")).toBe("darwin-x64");
    expect(detectClaudePlatform("linux", "x64")).toBe("linux-x64");
    expect(detectClaudePlatform("win32", "x64")).toBe("win32-x64");
    expect(() => detectClaudePlatform("freebsd", "x64")).toThrow(/freebsd-x64/);
  });

  it("points at resources/bin/<platform>-<arch> in development and <resources>/bin when packaged", () => {
    expect(
      getBundledClaudeBinaryPath({ isPackaged: false, appPath: "/app", platform: "darwin", arch: "arm64" }),
    ).toBe("/app/resources/bin/darwin-arm64/claude");
    expect(
      getBundledClaudeBinaryPath({
        isPackaged: true,
        appPath: "/x",
        resourcesPath: "/res",
        platform: "win32",
        arch: "x64",
      }),
    ).toBe("/res/bin/claude.exe");
  });

  it("uses the bundled binary when present, else the SDK platform package's binary", () => {
    const sdkBinary = getSdkPackageClaudeBinaryPath("linux", "x64");
    expect(sdkBinary).toMatch(/claude-agent-sdk-linux-x64[/\\]claude$/);
    const location = { isPackaged: false, appPath: sandbox.root, platform: "linux" as const, arch: "x64" };
    expect(resolveClaudeExecutable(location)).toEqual({ path: sdkBinary, source: "sdk-package" });
    const bundled = getBundledClaudeBinaryPath(location);
    mkdirSync(join(sandbox.root, "resources", "bin", "linux-x64"), { recursive: true });
    writeFileSync(bundled, "binary");
    expect(resolveClaudeExecutable(location)).toEqual({ path: bundled, source: "bundled" });
  });
});
