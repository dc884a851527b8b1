import { type ApiClient, createApiClient } from "@superset/trpc/client";
import { TRPCClientError } from "@trpc/client";

export type { ApiClient };

/** The host's view of the API: one tRPC client carrying the user's bearer and the device credential. */
export interface HostApi {
  client: ApiClient;
  /** Set once the device is registered (or given). */
  setDeviceToken(token: string): void;
}

export function createHostApi(options: { url: string; bearer?: string; deviceToken?: string }): HostApi {
  let deviceToken = options.deviceToken;
  const client = createApiClient({
    url: options.url,
    bearer: options.bearer,
    deviceToken: () => deviceToken,
    // One request per call: a slow claim never holds a lease renewal back.
    batch: false,
  });
  return {
    client,
    setDeviceToken(token) {
      deviceToken = token;
    },
  };
}

/** The tRPC error code of a failed call (CONFLICT, NOT_FOUND...), or null for a transport failure. */
export function apiErrorCode(error: unknown): string | null {
  if (error instanceof TRPCClientError) {
    const data = error.data as { code?: string } | undefined;
    return data?.code ?? null;
  }
  return null;
}

/** Signs in with email and password over better-auth; returns the bearer token. */
export async function signInWithPassword(apiUrl: string, email: string, password: string): Promise<string> {
  const base = apiUrl.replace(/\/$/, "");
  const res = await fetch(`${base}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: base },
    body: JSON.stringify({ email, password }),
  });
  if (res.status !== 200) {
    throw new Error(`sign-in as ${email} failed: HTTP ${res.status}`);
  }
  const bearer = res.headers.get("set-auth-token");
  if (!bearer) throw new Error("sign-in returned no bearer token (is the bearer plugin on?)");
  return bearer;
}
