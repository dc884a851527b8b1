import { chatApprovals, chatMessages, chatParticipants, chatSessions } from "@superset/db/schema";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Caller, createHarness, type Harness, type TestDevice, type TestUser } from "./support/harness";

/**
 * The authorization matrix: every session procedure against every kind of
 * caller. Organization membership first (another organization's ids are "not
 * found"), then the session role: viewers read, editors send, interrupt and
 * answer; owners manage participants, rename and archive.
 */

let h: Harness;
let owner: TestUser;
let editor: TestUser;
let viewer: TestUser;
let target: TestUser; // a viewer whom owners remove or promote
let outsider: TestUser; // same organization, not a participant
let stranger: TestUser; // another organization
let desk: TestDevice;

beforeAll(async () => {
  h = await createHarness();
  owner = await h.user("Owner");
  editor = await h.user("Editor", { joinOrganizationId: owner.organizationId });
  viewer = await h.user("Viewer", { joinOrganizationId: owner.organizationId });
  target = await h.user("Target", { joinOrganizationId: owner.organizationId });
  outsider = await h.user("Outsider", { joinOrganizationId: owner.organizationId });
  stranger = await h.user("Stranger");
  desk = await h.device(owner, ["ws-1"]);
});
afterAll(() => h.drop());

interface Fixture {
  sessionId: string;
  messageId: string;
  approvalId: string;
}

async function fixture(): Promise<Fixture> {
  const session = await owner.api.chat.createSession({ title: "Matrix", workspaceId: "ws-1" });
  await owner.api.chat.addParticipant({ sessionId: session.id, userId: editor.id, role: "editor" });
  await owner.api.chat.addParticipant({ sessionId: session.id, userId: viewer.id, role: "viewer" });
  await owner.api.chat.addParticipant({ sessionId: session.id, userId: target.id, role: "viewer" });
  const message = await owner.api.chat.sendMessage({ sessionId: session.id, content: "go" });
  await desk.api.device.claim({ messageId: message.id });
  const approval = await desk.api.device.requestApproval({
    messageId: message.id,
    toolUseId: "toolu_1",
    toolName: "Bash",
    toolInput: {},
    timeoutMs: 60_000,
  });
  return { sessionId: session.id, messageId: message.id, approvalId: approval.id };
}

type Role = "owner" | "editor" | "viewer";
const RANK: Record<Role, number> = { viewer: 1, editor: 2, owner: 3 };

const actions: { name: string; minRole: Role; call: (api: Caller, f: Fixture) => Promise<unknown> }[] = [
  {
    name: "getSession",
    minRole: "viewer",
    call: (api, f) => api.chat.getSession({ sessionId: f.sessionId }),
  },
  {
    name: "getMessages",
    minRole: "viewer",
    call: (api, f) => api.chat.getMessages({ sessionId: f.sessionId }),
  },
  {
    name: "listParticipants",
    minRole: "viewer",
    call: (api, f) => api.chat.listParticipants({ sessionId: f.sessionId }),
  },
  {
    name: "listApprovals",
    minRole: "viewer",
    call: (api, f) => api.chat.listApprovals({ sessionId: f.sessionId }),
  },
  {
    name: "getStreamToken",
    minRole: "viewer",
    call: (api, f) => api.chat.getStreamToken({ sessionId: f.sessionId }),
  },
  {
    name: "sendMessage",
    minRole: "editor",
    call: (api, f) => api.chat.sendMessage({ sessionId: f.sessionId, content: "hi" }),
  },
  { name: "interrupt", minRole: "editor", call: (api, f) => api.chat.interrupt({ sessionId: f.sessionId }) },
  {
    name: "answerApproval",
    minRole: "editor",
    call: (api, f) => api.chat.answerApproval({ approvalId: f.approvalId, decision: "allow" }),
  },
  {
    name: "updateSession",
    minRole: "owner",
    call: (api, f) => api.chat.updateSession({ sessionId: f.sessionId, title: "Renamed" }),
  },
  {
    name: "archiveSession",
    minRole: "owner",
    call: (api, f) => api.chat.archiveSession({ sessionId: f.sessionId }),
  },
  {
    name: "addParticipant",
    minRole: "owner",
    call: (api, f) =>
      api.chat.addParticipant({ sessionId: f.sessionId, userId: outsider.id, role: "viewer" }),
  },
  {
    name: "removeParticipant",
    minRole: "owner",
    call: (api, f) => api.chat.removeParticipant({ sessionId: f.sessionId, userId: target.id }),
  },
  {
    name: "setRole",
    minRole: "owner",
    call: (api, f) => api.chat.setRole({ sessionId: f.sessionId, userId: target.id, role: "editor" }),
  },
];

/** Everything a refused call could have changed, to prove it changed nothing. */
async function snapshot(f: Fixture) {
  return {
    session: await h.db.select().from(chatSessions).where(eq(chatSessions.id, f.sessionId)),
    messages: await h.db.select().from(chatMessages).where(eq(chatMessages.sessionId, f.sessionId)),
    participants: await h.db
      .select()
      .from(chatParticipants)
      .where(eq(chatParticipants.sessionId, f.sessionId)),
    approvals: await h.db.select().from(chatApprovals).where(eq(chatApprovals.sessionId, f.sessionId)),
  };
}

describe.each(actions)("$name (needs $minRole)", ({ minRole, call }) => {
  for (const role of ["owner", "editor", "viewer"] as const) {
    const allowed = RANK[role] >= RANK[minRole];
    it(`${allowed ? "allows" : "forbids"} a session ${role}`, async () => {
      const f = await fixture();
      const api = { owner, editor, viewer }[role].api;
      if (allowed) {
        await expect(call(api, f)).resolves.toBeDefined();
      } else {
        const before = await snapshot(f);
        await expect(call(api, f)).rejects.toMatchObject({
          code: "FORBIDDEN",
          message: expect.stringContaining(`your role: ${role}`),
        });
        expect(await snapshot(f)).toEqual(before);
      }
    });
  }

  it("hides the session from a member of the organization who does not take part", async () => {
    const f = await fixture();
    const before = await snapshot(f);
    await expect(call(outsider.api, f)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await snapshot(f)).toEqual(before);
  });

  it("hides the session from another organization", async () => {
    const f = await fixture();
    const before = await snapshot(f);
    await expect(call(stranger.api, f)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await snapshot(f)).toEqual(before);
  });
});

describe("organization membership", () => {
  it("refuses anonymous callers everywhere", async () => {
    const f = await fixture();
    const anonymous = await h.callerFor(new Headers());
    for (const { call } of actions) {
      await expect(call(anonymous, f)).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    }
  });

  it("cuts off a participant who leaves the organization", async () => {
    const f = await fixture();
    const leaver = await h.user("Leaver", { joinOrganizationId: owner.organizationId });
    await owner.api.chat.addParticipant({ sessionId: f.sessionId, userId: leaver.id, role: "editor" });
    await h.removeMember(leaver.id, owner.organizationId);
    const api = await h.callerFor(new Headers({ authorization: `Bearer ${leaver.token}` }));
    await expect(api.chat.getSession({ sessionId: f.sessionId })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    const participants = await owner.api.chat.listParticipants({ sessionId: f.sessionId });
    expect(participants.map((p) => p.userId)).not.toContain(leaver.id);
  });

  it("never lists another organization's sessions", async () => {
    await fixture();
    const { items } = await stranger.api.chat.listSessions({});
    expect(items).toEqual([]);
  });
});

describe("device calls across organizations", () => {
  it("refuses every device call on another organization's ids, changing nothing", async () => {
    const f = await fixture();
    const foreign = await h.device(stranger, ["ws-1"], "Foreign");
    const before = await snapshot(f);
    const d = foreign.api.device;
    const refusals: [string, () => Promise<unknown>, string][] = [
      ["claim", () => d.claim({ messageId: f.messageId }), "NOT_FOUND"],
      ["claimNext", () => d.claimNext({ sessionId: f.sessionId }), "none"],
      ["renewLease", () => d.renewLease({ messageId: f.messageId }), "CONFLICT"],
      ["release", () => d.release({ messageId: f.messageId }), "CONFLICT"],
      ["finishTurn", () => d.finishTurn({ messageId: f.messageId, status: "failed" }), "NOT_FOUND"],
      [
        "saveAssistantMessage",
        () => foreign.api.chat.saveAssistantMessage({ messageId: f.messageId, content: "x" }),
        "NOT_FOUND",
      ],
      [
        "requestApproval",
        () =>
          d.requestApproval({
            messageId: f.messageId,
            toolUseId: "t",
            toolName: "Bash",
            toolInput: {},
            timeoutMs: 5000,
          }),
        "NOT_FOUND",
      ],
      ["getApproval", () => d.getApproval({ approvalId: f.approvalId }), "NOT_FOUND"],
      ["expireApproval", () => d.expireApproval({ approvalId: f.approvalId }), "NOT_FOUND"],
      ["getStreamToken", () => d.getStreamToken({ sessionId: f.sessionId }), "NOT_FOUND"],
      [
        "setClaudeSessionId",
        () => d.setClaudeSessionId({ sessionId: f.sessionId, claudeSessionId: "c" }),
        "NOT_FOUND",
      ],
      ["revoke", () => stranger.api.device.revoke({ deviceId: desk.id }), "NOT_FOUND"],
    ];
    for (const [name, call, code] of refusals) {
      if (code === "none") {
        expect(await call(), name).toBeNull();
      } else {
        await expect(call(), name).rejects.toMatchObject({ code });
      }
    }
    expect(await snapshot(f)).toEqual(before);
  });

  it("refuses device calls without a valid device credential", async () => {
    const f = await fixture();
    await expect(owner.api.device.claimNext({})).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    const forged = await h.callerFor(new Headers({ "x-device-token": "sdt_forged" }));
    await expect(forged.device.renewLease({ messageId: f.messageId })).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
  });

  it("refuses a revoked device, and only its owner or an admin may revoke it", async () => {
    const laptop = await h.device(editor, ["ws-1"], "Laptop");
    await expect(viewer.api.device.revoke({ deviceId: laptop.id })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    const revoked = await editor.api.device.revoke({ deviceId: laptop.id });
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect(revoked).not.toHaveProperty("tokenHash");
    await expect(laptop.api.device.heartbeat({ workspaceIds: [] })).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
  });
});
