/**
 * CORS for browser clients on other origins (the web app on :3000 calls the
 * API on :3001 with its session cookie). Only trusted origins are echoed back.
 */
const ALLOWED_HEADERS =
  "authorization, content-type, x-device-token, x-request-id, trpc-accept, x-trpc-source";

export function corsHeaders(req: Request, trustedOrigins: readonly string[]): Record<string, string> {
  const origin = req.headers.get("origin");
  if (!origin || !trustedOrigins.includes(origin)) return { vary: "Origin" };
  return {
    "access-control-allow-origin": origin,
    "access-control-allow-credentials": "true",
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": ALLOWED_HEADERS,
    "access-control-max-age": "600",
    vary: "Origin",
  };
}

export function withHeaders(res: Response, headers: Record<string, string>): Response {
  // Responses from some handlers have immutable headers: copy into a new response.
  const merged = new Headers(res.headers);
  for (const [key, value] of Object.entries(headers)) merged.set(key, value);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: merged });
}
