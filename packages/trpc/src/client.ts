import { createTRPCClient, httpBatchLink, httpLink } from "@trpc/client";
import superjson from "superjson";
import { DEVICE_TOKEN_HEADER } from "./constants";
import type { AppRouter } from "./root";

export type { AppRouter } from "./root";

export interface ApiClientOptions {
  /** Base URL of the API, e.g. http://localhost:3001 (the client calls `${url}/api/trpc`). */
  url: string;
  /** A better-auth session token (sent as `Authorization: Bearer`). */
  bearer?: string | (() => string | undefined);
  /** A desktop's device credential (sent as x-device-token). */
  deviceToken?: string | (() => string | undefined);
  /** Extra headers (e.g. a cookie from a server-side caller). */
  headers?: Record<string, string>;
  /** Batch calls into one request (default true). */
  batch?: boolean;
  fetch?: typeof fetch;
}

const read = (value: string | (() => string | undefined) | undefined) =>
  typeof value === "function" ? value() : value;

/** A typed tRPC client for the API (superjson, bearer and/or device credential). */
export function createApiClient(options: ApiClientOptions) {
  const linkOptions = {
    url: `${options.url.replace(/\/$/, "")}/api/trpc`,
    transformer: superjson,
    fetch: options.fetch,
    headers: () => {
      const headers: Record<string, string> = { ...options.headers };
      const bearer = read(options.bearer);
      if (bearer) headers.authorization = `Bearer ${bearer}`;
      const deviceToken = read(options.deviceToken);
      if (deviceToken) headers[DEVICE_TOKEN_HEADER] = deviceToken;
      return headers;
    },
  };
  return createTRPCClient<AppRouter>({
    links: [options.batch === false ? httpLink(linkOptions) : httpBatchLink(linkOptions)],
  });
}
export type ApiClient = ReturnType<typeof createApiClient>;
