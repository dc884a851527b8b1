import { ClaudeCoreError } from "./errors";

export interface ApprovalRequest {
  sessionId: string;
  turnId: string;
  approvalId: string;
  toolName: string;
  input: Record<string, unknown>;
  toolUseId: string | null;
  /** Aborted when the request no longer needs an answer (timeout, turn ended, process gone). */
  signal: AbortSignal;
}

export type ApprovalDecision = { behavior: "allow" } | { behavior: "deny"; message?: string };

/** Asks someone outside the manager whether a tool may run. Whatever it throws counts as a deny. */
export type RequestApproval = (request: ApprovalRequest) => Promise<ApprovalDecision>;

/** Denies everything: the safe default when nobody can answer. */
export const denyAllApprovals: RequestApproval = async () => ({
  behavior: "deny",
  message: "No one is available to approve tool use",
});

/**
 * Keeps approval requests open until someone answers them by id (the tRPC `answerApproval` procedure,
 * or in issue #7 an answer read from the API). First answer wins; later answers are refused.
 */
export class ApprovalBroker {
  private readonly open = new Map<
    string,
    { request: Omit<ApprovalRequest, "signal">; resolve: (d: ApprovalDecision) => void }
  >();

  readonly request: RequestApproval = (request) =>
    new Promise<ApprovalDecision>((resolve) => {
      const { signal, ...rest } = request;
      if (signal.aborted) {
        resolve({ behavior: "deny", message: "approval request was cancelled" });
        return;
      }
      this.open.set(request.approvalId, { request: rest, resolve });
      signal.addEventListener(
        "abort",
        () => {
          if (this.open.delete(request.approvalId)) {
            resolve({ behavior: "deny", message: "approval request was cancelled" });
          }
        },
        { once: true },
      );
    });

  pending(sessionId?: string): Omit<ApprovalRequest, "signal">[] {
    return [...this.open.values()]
      .map((entry) => entry.request)
      .filter((request) => sessionId === undefined || request.sessionId === sessionId);
  }

  answer(approvalId: string, decision: ApprovalDecision): void {
    const entry = this.open.get(approvalId);
    if (!entry) {
      throw new ClaudeCoreError(
        "invalid_input",
        `approval ${approvalId} is not open (answered, expired or unknown)`,
      );
    }
    this.open.delete(approvalId);
    entry.resolve(decision);
  }
}
