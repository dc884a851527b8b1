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

/** One read buffer shared by every subscriber: `onread` callbacks run one at a time and consume it at once. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const T_MARK = Buffer.from('"t":');

/**
 * A raw SSE subscriber: calls `onData` with the send time each `{"t":...}` payload carries, at the
 * moment its bytes arrive. It reads through `net`'s `onread` (one shared buffer, no stream
 * machinery per read), so that with 1000 subscribers in this one process the bench measures the
 * server's delivery rather than its own reading.
 */
export function subscribeRaw(
  port: number,
  path: string,
  headers: Record<string, string>,
  onData: (sentAt: number, now: number) => void,
  timeoutMs = 10_000,
): Promise<{ close(): void }> {
  return new Promise((resolve, reject) => {
    let open = false;
    let head = "";
    const onBytes = (length: number, buffer: Buffer): boolean => {
      const now = performance.now();
      let from = 0;
      if (!open) {
        head += buffer.toString("latin1", 0, length);
        const headEnd = head.indexOf("\r\n\r\n");
        if (headEnd < 0) return true;
        clearTimeout(timer);
        if (!head.startsWith("HTTP/1.1 200")) {
          socket.destroy();
          reject(new Error(`SSE subscribe failed: ${head.slice(0, 40)}`));
          return false;
        }
        open = true;
        resolve({ close: () => socket.destroy() });
        from = length - (head.length - headEnd - 4);
      }
      // A payload is `{"t":<ms>}`; the bench writes one per append and never splits its digits
      // across reads at these sizes (one event is far below one TCP segment).
      let at = buffer.indexOf(T_MARK, from);
      while (at >= 0 && at < length) {
        onData(Number.parseFloat(buffer.toString("latin1", at + 4, Math.min(length, at + 30))), now);
        at = buffer.indexOf(T_MARK, at + 4);
      }
      return true;
    };
    const socket = net.connect({
      port,
      host: "127.0.0.1",
      onread: { buffer: READ_BUFFER, callback: onBytes },
    });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`SSE subscribe timed out: ${path}`));
    }, timeoutMs);
    socket.on("connect", () => {
      let head = `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\naccept: text/event-stream\r\n`;
      for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
      socket.write(`${head}\r\n`);
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      if (!open) reject(error);
    });
  });
}
