import { createApiClient } from "@superset/trpc/client";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn, signUp, startTestApi, type TestApi, WEB_ORIGIN } from "./support/server";

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api?.close());

let counter = 0;
async function member(name: string) {
  const email = `${name.toLowerCase()}-${++counter}@example.com`;
  await signUp(api.url, name, email);
  const { bearer, cookie } = await signIn(api.url, email);
  return { email, bearer, cookie, client: createApiClient({ url: api.url, bearer }) };
}

/** The tRPC error code and HTTP status of a failed call. */
async function failure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof TRPCClientError)) throw error;
    const data = error.data as { code: string; httpStatus: number; details?: unknown } | undefined;
    return { code: data?.code, status: data?.httpStatus, message: error.message, details: data?.details };
  }
  throw new Error("the call succeeded");
}

describe("serving", () => {
  it("answers /api/health", async () => {
    const res = await fetch(`${api.url}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("signs in over HTTP and calls tRPC with the bearer token and with the cookie", async () => {
    const ann = await member("Ann");
    const byBearer = await ann.client.me.get.query();
    expect(byBearer.user.email).toBe(ann.email);
    const cookieClient = createApiClient({ url: api.url, headers: { cookie: ann.cookie } });
    const byCookie = await cookieClient.me.get.query();
    expect(byCookie.user.id).toBe(byBearer.user.id);
    const session = await cookieClient.chat.createSession.mutate({ title: "Over HTTP" });
    expect(session.createdAt).toBeInstanceOf(Date); // superjson round trip
    const listed = await ann.client.chat.listSessions.query({});
    expect(listed.items.map((s) => s.id)).toContain(session.id);
  });

  it("refuses anonymous calls with 401 and a readable message", async () => {
    const anonymous = createApiClient({ url: api.url });
    expect(await failure(anonymous.chat.listSessions.query({}))).toMatchObject({
      code: "UNAUTHORIZED",
      status: 401,
      message: "Sign in first",
    });
  });

  it("answers bad input with 400 and field messages, never 500", async () => {
    const ann = await member("Val");
    const session = await ann.client.chat.createSession.mutate({});
    expect(
      await failure(
        ann.client.chat.sendMessage.mutate({ sessionId: session.id, content: "x".repeat(40_000) }),
      ),
    ).toMatchObject({
      code: "BAD_REQUEST",
      status: 400,
      message: expect.stringContaining("Message is too long"),
    });
    expect(await failure(ann.client.chat.getSession.query({ sessionId: "nope" }))).toMatchObject({
      status: 400,
      message: expect.stringContaining("sessionId must be a UUID"),
    });
    const raw = await fetch(`${api.url}/api/trpc/chat.sendMessage`, {
      method: "POST",
      headers: { authorization: `Bearer ${ann.bearer}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(raw.status).toBe(400);
    const body = await raw.text();
    expect(body).not.toMatch(/stack|node_modules|postgres/i);
  });

  it("refuses a body over the size limit with 413 before parsing it", async () => {
    const ann = await member("Big");
    const res = await fetch(`${api.url}/api/trpc/chat.createSession`, {
      method: "POST",
      headers: { authorization: `Bearer ${ann.bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ json: { title: "x".repeat(9 * 1024 * 1024) } }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE" } });
    expect((await ann.client.chat.listSessions.query({})).items).toEqual([]);
  });

  it("lets a browser on a trusted origin call with CORS, and no other origin", async () => {
    const preflight = await fetch(`${api.url}/api/trpc/chat.listSessions`, {
      method: "OPTIONS",
      headers: { origin: WEB_ORIGIN, "access-control-request-method": "GET" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(WEB_ORIGIN);
    expect(preflight.headers.get("access-control-allow-credentials")).toBe("true");
    const evil = await fetch(`${api.url}/api/trpc/chat.listSessions`, {
      method: "OPTIONS",
      headers: { origin: "http://evil.example", "access-control-request-method": "GET" },
    });
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("a turn over HTTP: web client, desktop, approval, answer", () => {
  it("runs the whole flow with a device credential alone", async () => {
    const ann = await member("Dee");
    const { deviceId, deviceToken } = await ann.client.device.register.mutate({
      name: "Dee's desktop",
      workspaceIds: ["ws-http"],
    });
    const desktop = createApiClient({ url: api.url, deviceToken });
    await desktop.device.heartbeat.mutate({ workspaceIds: ["ws-http"] });
    const session = await ann.client.chat.createSession.mutate({ workspaceId: "ws-http" });
    const prompt = await ann.client.chat.sendMessage.mutate({ sessionId: session.id, content: "list files" });
    expect(prompt.txid).toMatch(/^\d+$/);

    const claimed = await desktop.device.claimNext.mutate({});
    expect(claimed).toMatchObject({ id: prompt.id, claimedByDeviceId: deviceId });
    const token = await desktop.device.getStreamToken.query({ sessionId: session.id });
    expect(token.rights).toEqual(["read", "presence", "append"]);
    expect(token.path).toBe(`/streams/${session.id}`);

    const approval = await desktop.device.requestApproval.mutate({
      messageId: prompt.id,
      toolUseId: "toolu_http",
      toolName: "Bash",
      toolInput: { command: "ls" },
      timeoutMs: 30_000,
    });
    const answered = await ann.client.chat.answerApproval.mutate({
      approvalId: approval.id,
      decision: "allow",
    });
    expect(answered.status).toBe("allowed");
    expect(
      await failure(ann.client.chat.answerApproval.mutate({ approvalId: approval.id, decision: "deny" })),
    ).toMatchObject({
      code: "CONFLICT",
      status: 409,
      message: "Already answered: allowed by Dee",
      details: expect.objectContaining({ status: "allowed", decidedByName: "Dee" }),
    });
    expect((await desktop.device.getApproval.query({ approvalId: approval.id })).status).toBe("allowed");

    const input = { messageId: prompt.id, content: "a.txt b.txt", inputTokens: 10, outputTokens: 4 };
    const saved = await desktop.chat.saveAssistantMessage.mutate(input);
    const retried = await desktop.chat.saveAssistantMessage.mutate(input);
    expect(retried.id).toBe(saved.id);
    const { items } = await ann.client.chat.getMessages.query({ sessionId: session.id });
    expect(items.map((m) => [m.role, m.status])).toEqual([
      ["user", "done"],
      ["assistant", "done"],
    ]);
  });
});

describe("cross-organization attempts over HTTP", () => {
  it("refuses every procedure that takes an id of another organization, with 404", async () => {
    const ann = await member("Owner");
    const { deviceId, deviceToken } = await ann.client.device.register.mutate({
      name: "A",
      workspaceIds: ["w"],
    });
    const annDesk = createApiClient({ url: api.url, deviceToken });
    const session = await ann.client.chat.createSession.mutate({ workspaceId: "w" });
    const message = await ann.client.chat.sendMessage.mutate({ sessionId: session.id, content: "secret" });
    await annDesk.device.claim.mutate({ messageId: message.id });
    const approval = await annDesk.device.requestApproval.mutate({
      messageId: message.id,
      toolUseId: "t1",
      toolName: "Bash",
      toolInput: {},
      timeoutMs: 30_000,
    });

    const zed = await member("Intruder");
    const zedUserId = (await zed.client.me.get.query()).user.id;
    const zedDevice = await zed.client.device.register.mutate({ name: "Z", workspaceIds: ["w"] });
    const z = zed.client.chat;
    const zd = createApiClient({ url: api.url, deviceToken: zedDevice.deviceToken });
    const sessionId = session.id;
    const attempts: [string, () => Promise<unknown>][] = [
      ["getSession", () => z.getSession.query({ sessionId })],
      ["getMessages", () => z.getMessages.query({ sessionId })],
      ["sendMessage", () => z.sendMessage.mutate({ sessionId, content: "hi" })],
      ["updateSession", () => z.updateSession.mutate({ sessionId, title: "pwned" })],
      ["archiveSession", () => z.archiveSession.mutate({ sessionId })],
      ["interrupt", () => z.interrupt.mutate({ sessionId })],
      ["listParticipants", () => z.listParticipants.query({ sessionId })],
      ["addParticipant", () => z.addParticipant.mutate({ sessionId, userId: zedUserId, role: "owner" })],
      ["removeParticipant", () => z.removeParticipant.mutate({ sessionId, userId: zedUserId })],
      ["setRole", () => z.setRole.mutate({ sessionId, userId: zedUserId, role: "owner" })],
      ["listApprovals", () => z.listApprovals.query({ sessionId })],
      ["answerApproval", () => z.answerApproval.mutate({ approvalId: approval.id, decision: "allow" })],
      ["getStreamToken", () => z.getStreamToken.query({ sessionId })],
      ["createSession(repository)", () => z.createSession.mutate({ repositoryId: crypto.randomUUID() })],
      ["device.revoke", () => zed.client.device.revoke.mutate({ deviceId })],
      ["device.claim", () => zd.device.claim.mutate({ messageId: message.id })],
      ["device.finishTurn", () => zd.device.finishTurn.mutate({ messageId: message.id, status: "failed" })],
      [
        "chat.saveAssistantMessage",
        () => zd.chat.saveAssistantMessage.mutate({ messageId: message.id, content: "x" }),
      ],
      [
        "device.requestApproval",
        () =>
          zd.device.requestApproval.mutate({
            messageId: message.id,
            toolUseId: "t2",
            toolName: "Bash",
            toolInput: {},
            timeoutMs: 30_000,
          }),
      ],
      ["device.getApproval", () => zd.device.getApproval.query({ approvalId: approval.id })],
      ["device.expireApproval", () => zd.device.expireApproval.mutate({ approvalId: approval.id })],
      ["device.getStreamToken", () => zd.device.getStreamToken.query({ sessionId })],
      [
        "device.setClaudeSessionId",
        () => zd.device.setClaudeSessionId.mutate({ sessionId, claudeSessionId: "c" }),
      ],
    ];
    for (const [name, attempt] of attempts) {
      expect(await failure(attempt()), name).toMatchObject({ code: "NOT_FOUND", status: 404 });
    }
    // Lease calls on a foreign message are refused as "no claim held" (409), revealing nothing either.
    expect(await failure(zd.device.renewLease.mutate({ messageId: message.id }))).toMatchObject({
      status: 409,
    });
    expect(await failure(zd.device.release.mutate({ messageId: message.id }))).toMatchObject({ status: 409 });
    expect(await zd.device.claimNext.mutate({ sessionId })).toBeNull();
    expect((await zed.client.chat.listSessions.query({})).items).toEqual([]);

    // Nothing changed on Ann's side.
    const mine = await ann.client.chat.getSession.query({ sessionId });
    expect(mine).toMatchObject({ title: session.title, archivedAt: null, runningMessageId: message.id });
    expect(await ann.client.chat.listParticipants.query({ sessionId })).toHaveLength(1);
    expect((await annDesk.device.getApproval.query({ approvalId: approval.id })).status).toBe("pending");
  });
});
