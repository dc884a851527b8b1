import type { SDKResultMessage } from "@anthropic-ai/claude-agent-sdk";
import type { AnthropicStreamEvent, ToolCallRecord, TurnStatus, TurnSummary, TurnUsage } from "./events";

/**
 * Builds the summary of one turn from what the SDK sent: the text as it streamed (top-level text deltas,
 * one paragraph per model message), the tool calls with their inputs and results, usage and cost.
 */
export class TurnAccumulator {
  private readonly messageTexts: string[] = [];
  private readonly toolCalls = new Map<string, ToolCallRecord>();
  private readonly streamedUsage: TurnUsage = { inputTokens: 0, outputTokens: 0 };
  private result: SDKResultMessage | null = null;
  readonly startedAt = Date.now();

  constructor(
    readonly turnId: string,
    readonly prompt: string,
  ) {}

  onStreamEvent(event: AnthropicStreamEvent, parentToolUseId: string | null): void {
    if (parentToolUseId !== null) return;
    if (event.type === "message_start") {
      this.messageTexts.push("");
      this.streamedUsage.inputTokens += event.message.usage.input_tokens ?? 0;
    } else if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
      if (this.messageTexts.length === 0) this.messageTexts.push("");
      this.messageTexts[this.messageTexts.length - 1] += event.delta.text;
    } else if (event.type === "message_delta") {
      this.streamedUsage.outputTokens += event.usage.output_tokens ?? 0;
    }
  }

  onToolUse(id: string, name: string, input: unknown): void {
    const known = this.toolCalls.get(id);
    if (known) known.input = input;
    else this.toolCalls.set(id, { id, name, input });
  }

  onToolResult(toolUseId: string, content: string, isError: boolean): void {
    const call = this.toolCalls.get(toolUseId);
    if (!call) return;
    call.result = content;
    call.isError = isError;
  }

  onResult(result: SDKResultMessage): void {
    this.result = result;
  }

  get hasResult(): boolean {
    return this.result !== null;
  }

  get text(): string {
    return this.messageTexts.filter((text) => text.length > 0).join("\n\n");
  }

  /** Why the SDK says the turn failed, in words a person can read. */
  errorReason(): string {
    const result = this.result as (SDKResultMessage & Record<string, unknown>) | null;
    if (!result) return "Claude Code ended the turn without a result";
    const parts: string[] = [];
    const status = result.api_error_status;
    if (typeof status === "number") {
      const type = typeof result.api_error_type === "string" ? ` ${result.api_error_type}` : "";
      parts.push(`API error ${status}${type}`);
    }
    if (typeof result.result === "string" && result.result.length > 0) parts.push(result.result);
    if (result.subtype !== "success" && Array.isArray(result.errors) && result.errors.length > 0) {
      parts.push(result.errors.join("; "));
    }
    if (parts.length === 0) parts.push(`Claude Code reported ${result.subtype}`);
    return parts.join(": ");
  }

  summarize(options: {
    status: TurnStatus;
    reason?: string;
    claudeSessionId: string | null;
    previousTotalCostUsd: number;
  }): TurnSummary {
    const result = this.result;
    const usage: TurnUsage = result
      ? { inputTokens: result.usage.input_tokens, outputTokens: result.usage.output_tokens }
      : { ...this.streamedUsage };
    const totalCostUsd = result ? result.total_cost_usd : options.previousTotalCostUsd;
    return {
      status: options.status,
      ...(options.reason === undefined ? {} : { reason: options.reason }),
      text: this.text,
      toolCalls: [...this.toolCalls.values()],
      usage,
      costUsd: Math.max(0, totalCostUsd - options.previousTotalCostUsd),
      totalCostUsd,
      claudeSessionId: options.claudeSessionId,
      durationMs: Date.now() - this.startedAt,
    };
  }
}

/** Text of a tool_result's content, which is a string or a list of content blocks. */
export function toolResultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return content === undefined ? "" : JSON.stringify(content);
  return content
    .map((block: { type?: string; text?: string }) =>
      block.type === "text" && typeof block.text === "string" ? block.text : JSON.stringify(block),
    )
    .join("\n");
}
