import { type Row, Shape, ShapeStream } from "@electric-sql/client";
import type { Logger } from "pino";

/**
 * What the host follows through the API's Electric proxy: the open user
 * messages of the sessions its user takes part in, those sessions and the
 * answers to its own permission requests. The proxy authenticates the bearer
 * and ANDs every where clause with the organization and participation scope;
 * the host never talks to the sync service itself (it holds no shape secret).
 * It also follows its user's own participation rows: the proxy lists the
 * user's sessions in the scope of the chat shapes, so a live request made
 * before the user joined a session never sees that session's rows; when a
 * participation row of a new session arrives, the session and message shapes
 * are refreshed at once (the proxy then sends them to refetch with the new scope).
 * Rows arrive as the shape's values (snake_case columns, Postgres text parsed
 * by column type).
 */
export interface ElectricSource {
  /** Shape endpoint of the proxy, e.g. `<api>/api/electric/v1/shape`. */
  url: string;
  /** Headers of every shape request: the user's bearer. */
  headers: Record<string, string>;
}

export interface OpenMessageRow {
  id: string;
  session_id: string;
  status: string;
  created_at: string;
  interrupt_requested_at: string | null;
  claimed_by_device_id: string | null;
  claim_count: number;
}

export interface SessionRow {
  id: string;
  workspace_id: string | null;
  cwd: string | null;
  claude_session_id: string | null;
  archived_at: string | null;
}

export interface ParticipationRow {
  id: string;
  session_id: string;
}

export interface ApprovalRow {
  id: string;
  status: string;
  reason: string | null;
}

export interface PickupListener {
  /** The open messages or the sessions changed: look for work. */
  onWork(): void;
  /** A running message was asked to stop. */
  onInterrupt(messageId: string): void;
  /** One of this device's permission requests was answered or expired. */
  onApproval(row: ApprovalRow): void;
}

const UUID = /^[0-9a-f-]{36}$/i;

export class Pickup {
  readonly messages = new Map<string, OpenMessageRow>();
  readonly sessions = new Map<string, SessionRow>();
  private readonly controller = new AbortController();
  private readonly unsubscribers: (() => void)[] = [];
  private readonly seenInterrupts = new Set<string>();
  /** Sessions the user takes part in, from the participation shape. */
  private readonly joined = new Set<string>();
  private readonly streams: { messages?: ShapeStream<Row>; sessions?: ShapeStream<Row> } = {};

  constructor(
    private readonly source: ElectricSource,
    private readonly deviceId: string,
    private readonly userId: string,
    private readonly listener: PickupListener,
    private readonly logger: Logger,
  ) {
    if (!UUID.test(deviceId)) throw new Error("deviceId must be a UUID");
    if (!UUID.test(userId)) throw new Error("userId must be a UUID");
  }

  /** Starts the four shapes; resolves once each has its initial snapshot. */
  async start(): Promise<void> {
    let started = false;
    const participations = this.follow<ParticipationRow & Row>(
      "chat_participants",
      `user_id = '${this.userId}'`,
      "id,session_id",
      (rows) => {
        const fresh = rows.filter((row) => !this.joined.has(row.session_id)).map((row) => row.session_id);
        for (const sessionId of fresh) this.joined.add(sessionId);
        if (started && fresh.length > 0) this.rescope(fresh);
      },
    );
    const messages = this.follow<OpenMessageRow & Row>(
      "chat_messages",
      "role = 'user' AND (status = 'pending' OR status = 'claimed')",
      "id,session_id,status,created_at,interrupt_requested_at,claimed_by_device_id,claim_count",
      (rows) => {
        this.messages.clear();
        for (const row of rows) {
          this.messages.set(row.id, row);
          if (row.status === "claimed" && row.interrupt_requested_at && !this.seenInterrupts.has(row.id)) {
            this.seenInterrupts.add(row.id);
            this.listener.onInterrupt(row.id);
          }
        }
        this.listener.onWork();
      },
    );
    const sessions = this.follow<SessionRow & Row>(
      "chat_sessions",
      "archived_at IS NULL",
      "id,workspace_id,cwd,claude_session_id,archived_at",
      (rows) => {
        this.sessions.clear();
        for (const row of rows) this.sessions.set(row.id, row);
        this.listener.onWork();
      },
    );
    const approvals = this.follow<ApprovalRow & Row>(
      "chat_approvals",
      `device_id = '${this.deviceId}' AND status <> 'pending'`,
      "id,status,reason",
      (rows) => {
        for (const row of rows) this.listener.onApproval(row);
      },
    );
    await Promise.all([participations, messages, sessions, approvals]);
    started = true;
  }

  /** The user joined sessions the chat shapes' scope does not list yet: refetch them now. */
  private rescope(sessionIds: string[]): void {
    this.logger.info({ sessions: sessionIds }, "joined a session: refreshing the chat shapes");
    for (const stream of [this.streams.messages, this.streams.sessions]) {
      stream?.forceDisconnectAndRefresh().catch((error: unknown) => {
        if (!this.controller.signal.aborted)
          this.logger.warn({ err: String(error) }, "shape refresh failed: the fallback poll remains");
      });
    }
  }

  stop(): void {
    this.controller.abort();
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
  }

  private async follow<T extends Row>(
    table: string,
    where: string,
    columns: string,
    onRows: (rows: T[]) => void,
  ): Promise<void> {
    const stream = new ShapeStream<T>({
      url: this.source.url,
      params: { table, where, columns: columns.split(",") },
      headers: this.source.headers,
      signal: this.controller.signal,
      onError: (error) => {
        this.logger.warn({ table, err: error.message }, "shape request failed: retrying");
        return {};
      },
    });
    if (table === "chat_messages" || table === "chat_sessions")
      this.streams[table === "chat_messages" ? "messages" : "sessions"] =
        stream as unknown as ShapeStream<Row>;
    const shape = new Shape<T>(stream);
    this.unsubscribers.push(
      shape.subscribe(({ rows }) => {
        onRows(rows);
      }),
    );
    onRows(await shape.rows);
  }
}
