/** Errors of the subscription APIs: JSON `{ error: { code, message, ...details } }` with a status. */
export class SubscriptionError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 429 | 503,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "SubscriptionError";
  }
}
