import net from "node:net";

/**
 * A lean HTTP/1.1 client over raw sockets for the benchmark: one request in flight per keep-alive
 * connection, responses parsed just enough (status, Content-Length or chunked body). node:http's
 * client costs more CPU per request than the servers under test on this 2-core machine, so with it
 * the bench measured the client; with this one both servers face the same cheap driver.
 */
export class RawConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private pending: { resolve: (status: number) => void; reject: (error: Error) => void } | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly host: string,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("connection closed")));
  }

  static open(port: number, host = "127.0.0.1"): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new RawConnection(socket, `${host}:${port}`)));
      socket.once("error", reject);
    });
  }

  request(method: string, path: string, body = "", headers: Record<string, string> = {}): Promise<number> {
    if (this.pending) return Promise.reject(new Error("one request at a time per connection"));
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.host}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(`${head}\r\n${body}`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(error: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const headEnd = this.buffer.indexOf("\r\n\r\n");
    if (headEnd < 0) return;
    const head = this.buffer.toString("latin1", 0, headEnd);
    const status = Number(head.slice(9, 12));
    const bodyStart = headEnd + 4;
    let end: number;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (status === 204 || status === 304 || status < 200) end = bodyStart;
    else if (length) end = bodyStart + Number(length[1]);
    else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const last = this.buffer.indexOf("\r\n0\r\n\r\n", bodyStart - 2);
      if (last < 0) return;
      end = last + 7;
    } else end = bodyStart;
    if (this.buffer.length < end) return;
    this.buffer = this.buffer.subarray(end);
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve(status);
  }
}

/**
 * A raw SSE subscriber: calls `onData` with the send time each `{"t":...}` payload carries, at the
 * moment its bytes arrive.
 */
export function subscribeRaw(
  port: number,
  path: string,
  onData: (sentAt: number, now: number) => void,
  timeoutMs = 10_000,
): Promise<{ close(): void }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`SSE subscribe timed out: ${path}`));
    }, timeoutMs);
    let open = false;
    let text = "";
    socket.on("connect", () => {
      socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\naccept: text/event-stream\r\n\r\n`);
    });
    socket.on("data", (chunk: Buffer) => {
      const now = performance.now();
      text += chunk.toString("latin1");
      if (!open) {
        const headEnd = text.indexOf("\r\n\r\n");
        if (headEnd < 0) return;
        if (!text.startsWith("HTTP/1.1 200")) {
          clearTimeout(timer);
          socket.destroy();
          reject(new Error(`SSE subscribe failed: ${text.slice(0, 40)}`));
          return;
        }
        open = true;
        clearTimeout(timer);
        resolve({ close: () => socket.destroy() });
        text = text.slice(headEnd + 4);
      }
      const end = text.lastIndexOf("\n\n");
      if (end < 0) return;
      let at = text.indexOf('"t":');
      while (at >= 0 && at < end) {
        onData(Number.parseFloat(text.slice(at + 4, at + 30)), now);
        at = text.indexOf('"t":', at + 4);
      }
      text = text.slice(end + 2);
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      if (!open) reject(error);
    });
  });
}
