/** The one error of the stream server: a code, an HTTP status, a user-facing message, optional headers. */
export class StreamError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 410 | 413 | 429 | 500 | 503,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "StreamError";
  }
}

export const badRequest = (message: string) => new StreamError(400, "BAD_REQUEST", message);
export const notFound = (message = "stream not found") => new StreamError(404, "NOT_FOUND", message);
export const gone = () => new StreamError(410, "GONE", "stream is gone");
export const conflict = (message: string, headers: Record<string, string> = {}) =>
  new StreamError(409, "CONFLICT", message, headers);
