/** Tunables of the chat API; the API process fills them from its environment. */
export interface ChatConfig {
  /** How long a claim lasts without a renewal. */
  leaseMs: number;
  /** Claims a message may have; when the last one's lease expires, the message fails. */
  maxClaims: number;
  /** Lifetime of the durable stream tokens minted by getStreamToken. */
  streamTokenTtlSeconds: number;
}

export const DEFAULT_CHAT_CONFIG: ChatConfig = {
  leaseMs: 30_000,
  maxClaims: 3,
  streamTokenTtlSeconds: 15 * 60,
};

export function resolveChatConfig(partial: Partial<ChatConfig> | undefined): ChatConfig {
  return { ...DEFAULT_CHAT_CONFIG, ...partial };
}
