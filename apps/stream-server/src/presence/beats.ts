/**
 * Heartbeat deadlines of presence entries. The sweeper claims expired entries; with several
 * instances only one of them wins each claim, so each expiry is announced once.
 */
export interface PresenceBeats {
  beat(stream: string, key: string, expiresAt: number): Promise<void>;
  remove(stream: string, key: string): Promise<boolean>;
  /** Removes and returns entries whose deadline has passed. */
  claimExpired(now: number): Promise<Array<{ stream: string; key: string }>>;
}

const SEPARATOR = "\n";

export function beatMember(stream: string, key: string): string {
  return `${stream}${SEPARATOR}${key}`;
}

export function parseBeatMember(member: string): { stream: string; key: string } {
  const at = member.indexOf(SEPARATOR);
  return { stream: member.slice(0, at), key: member.slice(at + 1) };
}

export class MemoryBeats implements PresenceBeats {
  private readonly deadlines = new Map<string, number>();

  async beat(stream: string, key: string, expiresAt: number): Promise<void> {
    this.deadlines.set(beatMember(stream, key), expiresAt);
  }

  async remove(stream: string, key: string): Promise<boolean> {
    return this.deadlines.delete(beatMember(stream, key));
  }

  async claimExpired(now: number): Promise<Array<{ stream: string; key: string }>> {
    const expired: Array<{ stream: string; key: string }> = [];
    for (const [member, deadline] of this.deadlines) {
      if (deadline <= now) {
        this.deadlines.delete(member);
        expired.push(parseBeatMember(member));
      }
    }
    return expired;
  }
}
