export type ClaudeErrorCode =
  | "session_not_found"
  | "invalid_input"
  | "cwd_not_found"
  | "turn_exists"
  | "manager_closed"
  | "download_failed"
  | "checksum_mismatch"
  | "unsupported_platform";

/** The one error class of the desktop Claude core: a code for programs, a message for people. */
export class ClaudeCoreError extends Error {
  constructor(
    readonly code: ClaudeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ClaudeCoreError";
  }
}
