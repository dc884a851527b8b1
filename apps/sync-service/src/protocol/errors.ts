/** The one error class of the sync service: a code, an HTTP status and a message safe to show clients. */
export class SyncError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 500 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "SyncError";
  }
}

export const badRequest = (message: string, code = "invalid_request") => new SyncError(400, code, message);
