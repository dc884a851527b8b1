import { mintStreamToken } from "@superset/stream-tokens";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server";
import { startTestServer } from "./support/server";

const SECRET = "presence-secret-that-is-long-enough-0123456789";
const TTL_MS = 400;
let server: RunningServer;

const tokenFor = async (userId: string, name: string) =>
  (
    await mintStreamToken(
      {
        userId,
        organizationId: "org",
        sessionId: "sess",
        rights: ["read", "presence"],
        name,
        deviceId: `${userId}-desk`,
      },
      { secret: SECRET },
    )
  ).token;

const post = (token: string, body: unknown) =>
  fetch(`${server.url}/streams/sess/presence`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

type Event = {
  type?: string;
  key?: string;
  value?: { userId: string; status: string; name: string };
  headers: Record<string, string>;
};

const snapshot = async (token: string): Promise<{ events: Event[]; offset: string }> => {
  const res = await fetch(`${server.url}/streams/sess/presence?offset=-1`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  return { events: (await res.json()) as Event[], offset: res.headers.get("stream-next-offset") as string };
};

const members = (events: Event[]) => events.filter((e) => e.type === "presence").map((e) => e.value?.userId);

beforeAll(async () => {
  server = await startTestServer({
    STREAM_AUTH: "jwt",
    STREAM_AUTH_SECRET: SECRET,
    STREAM_PRESENCE_TTL_MS: String(TTL_MS),
  });
  server.presence.stop(); // sweeps are driven by the test, so expiry is deterministic
});
afterAll(async () => {
  await server?.stop();
});

describe("presence", () => {
  it("takes the user from the token, not the body, and validates the status", async () => {
    const ada = await tokenFor("ada", "Ada");
    expect((await post(ada, { userId: "mallory", status: "viewing" })).status).toBe(204);
    expect((await post(ada, { status: "dancing" })).status).toBe(400);
    expect((await post(ada, "{not json")).status).toBe(400);
    const { events } = await snapshot(ada);
    expect(members(events)).toEqual(["ada"]);
    expect(events[0]?.headers.control).toBe("snapshot-start");
    expect(events.at(-1)?.headers.control).toBe("snapshot-end");
  });

  it("compacts: heartbeats without change append nothing, and a late joiner gets one entry per member", async () => {
    const ada = await tokenFor("ada", "Ada");
    const before = (await snapshot(ada)).offset;
    for (let i = 0; i < 50; i++) expect((await post(ada, { status: "viewing" })).status).toBe(204);
    expect((await snapshot(ada)).offset).toBe(before);
    await post(ada, { status: "typing" });
    const bob = await tokenFor("bob", "Bob");
    await post(bob, { status: "viewing" });
    const late = await snapshot(bob);
    expect(late.events.filter((e) => e.type === "presence")).toHaveLength(2);
    expect(late.events.find((e) => e.value?.userId === "ada")?.value?.status).toBe("typing");
  });

  it("streams changes after the snapshot offset to a live reader", async () => {
    const bob = await tokenFor("bob", "Bob");
    const { offset } = await snapshot(bob);
    const poll = fetch(`${server.url}/streams/sess/presence?offset=${offset}&live=long-poll`, {
      headers: { authorization: `Bearer ${bob}` },
    });
    const cy = await tokenFor("cy", "Cy");
    await post(cy, { status: "idle" });
    const res = await poll;
    expect(res.status).toBe(200);
    const events = (await res.json()) as Event[];
    expect(events).toMatchObject([{ key: "cy:cy-desk", headers: { operation: "upsert" } }]);
  });

  it("deletes a clean leave at once", async () => {
    const cy = await tokenFor("cy", "Cy");
    const res = await fetch(`${server.url}/streams/sess/presence`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${cy}` },
    });
    expect(res.status).toBe(204);
    expect(members((await snapshot(cy)).events)).not.toContain("cy");
  });

  it("expires a member that stops heart-beating, with a delete event", async () => {
    const ada = await tokenFor("ada", "Ada");
    const bob = await tokenFor("bob", "Bob");
    await post(ada, { status: "viewing" });
    await post(bob, { status: "viewing" });
    const { offset } = await snapshot(ada);
    // Ada keeps beating, Bob stops; after more than one TTL a sweep removes Bob only.
    await new Promise((resolve) => setTimeout(resolve, TTL_MS / 2));
    await post(ada, { status: "viewing" });
    await new Promise((resolve) => setTimeout(resolve, TTL_MS / 2 + 50));
    await post(ada, { status: "viewing" });
    await server.presence.sweep();
    expect(members((await snapshot(ada)).events)).toEqual(["ada"]);
    const changes = await fetch(`${server.url}/streams/sess/presence?offset=${offset}`, {
      headers: { authorization: `Bearer ${ada}` },
    });
    const events = (await changes.json()) as Event[];
    expect(events).toMatchObject([{ key: "bob:bob-desk", headers: { operation: "delete" } }]);
  });
});
