/**
 * SSE framing (PROTOCOL.md "SSE mode"). Every line of a payload gets its own `data:` prefix, so a
 * payload cannot inject events through CR or LF; no space after the colon, so leading spaces survive.
 */
export function sseEvent(event: string, payload: string): string {
  return `event: ${event}\ndata:${payload.split(/\r\n|\r|\n/).join("\ndata:")}\n\n`;
}
