import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Claude Code's keychain item on macOS. */
export const KEYCHAIN_SERVICE = "Claude Code-credentials";

export type ClaudeCredentials =
  | { source: "env"; kind: "api_key"; apiKey: string }
  | { source: "credentials_file" | "keychain"; kind: "oauth"; accessToken: string; expiresAt: number | null };

export interface CredentialLookup {
  env?: NodeJS.ProcessEnv;
  homeDir?: string;
  platform?: NodeJS.Platform;
}

function parseOauth(json: string, source: "credentials_file" | "keychain"): ClaudeCredentials | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return null;
  }
  const oauth = (parsed as { claudeAiOauth?: { accessToken?: unknown; expiresAt?: unknown } } | null)
    ?.claudeAiOauth;
  if (!oauth || typeof oauth.accessToken !== "string" || oauth.accessToken.length === 0) return null;
  return {
    source,
    kind: "oauth",
    accessToken: oauth.accessToken,
    expiresAt: typeof oauth.expiresAt === "number" ? oauth.expiresAt : null,
  };
}

/** Claude Code's credentials file: `$CLAUDE_CONFIG_DIR/.credentials.json`, else `~/.claude/.credentials.json`. */
export function credentialsFilePath(lookup: CredentialLookup = {}): string {
  const env = lookup.env ?? process.env;
  const configDir = env.CLAUDE_CONFIG_DIR || join(lookup.homeDir ?? env.HOME ?? homedir(), ".claude");
  return join(configDir, ".credentials.json");
}

function readKeychain(env: NodeJS.ProcessEnv): string | null {
  try {
    return execFileSync("security", ["find-generic-password", "-s", KEYCHAIN_SERVICE, "-w"], {
      env: { PATH: env.PATH ?? "/usr/bin:/bin", HOME: env.HOME ?? "" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5_000,
    }).trim();
  } catch {
    return null;
  }
}

/**
 * The user's existing Claude credentials, in this order: `ANTHROPIC_API_KEY`, Claude Code's credentials file,
 * then (macOS only) the Keychain through the `security` command. Null when there are none.
 */
export function getExistingClaudeCredentials(lookup: CredentialLookup = {}): ClaudeCredentials | null {
  const env = lookup.env ?? process.env;
  const apiKey = env.ANTHROPIC_API_KEY?.trim();
  if (apiKey) return { source: "env", kind: "api_key", apiKey };

  let fileText: string | null = null;
  try {
    fileText = readFileSync(credentialsFilePath(lookup), "utf8");
  } catch {
    fileText = null;
  }
  const fromFile = fileText === null ? null : parseOauth(fileText, "credentials_file");
  if (fromFile) return fromFile;

  if ((lookup.platform ?? process.platform) === "darwin") {
    const keychain = readKeychain(env);
    if (keychain) return parseOauth(keychain, "keychain");
  }
  return null;
}

/** What may be logged about credentials: where they came from, never the secret. */
export function describeCredentials(credentials: ClaudeCredentials | null): string {
  if (!credentials) return "none";
  return `${credentials.kind} from ${credentials.source}`;
}

const INHERITED = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LC_ALL",
  "TMPDIR",
  "TEMP",
  "TMP",
  "USERPROFILE",
  "APPDATA",
  "LOCALAPPDATA",
  "SYSTEMROOT",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
  "CLAUDE_CONFIG_DIR",
];

export interface BuildClaudeEnvOptions {
  credentials: ClaudeCredentials | null;
  /** Where PATH, HOME and the like come from (default process.env). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Claude Code's config dir (transcripts live there: resume needs the same one). */
  configDir?: string;
  /** Another Messages API (the demo model, a proxy). */
  baseUrl?: string;
  extra?: Record<string, string>;
}

/**
 * The complete environment of a Claude Code process. The SDK's `options.env` replaces the environment, so this
 * carries PATH and HOME, the credentials, and switches off what a desktop app must not do behind the user's
 * back (self-update, telemetry, error reports).
 */
export function buildClaudeEnv(options: BuildClaudeEnvOptions): Record<string, string> {
  const base = options.baseEnv ?? process.env;
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const value = base[name];
    if (value) env[name] = value;
  }
  env.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  env.HOME ??= homedir();
  env.DISABLE_AUTOUPDATER = "1";
  env.DISABLE_TELEMETRY = "1";
  env.DISABLE_ERROR_REPORTING = "1";
  if (options.configDir) env.CLAUDE_CONFIG_DIR = options.configDir;
  if (options.baseUrl) env.ANTHROPIC_BASE_URL = options.baseUrl;
  const credentials = options.credentials;
  if (credentials?.kind === "api_key") env.ANTHROPIC_API_KEY = credentials.apiKey;
  // An expired token is left out: Claude Code then refreshes it from its own store.
  if (
    credentials?.kind === "oauth" &&
    (credentials.expiresAt === null || credentials.expiresAt > Date.now())
  ) {
    env.CLAUDE_CODE_OAUTH_TOKEN = credentials.accessToken;
  }
  return { ...env, ...options.extra };
}
