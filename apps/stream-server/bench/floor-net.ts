import net from "node:net";

import { serveFloor } from "./serve-floor";

/**
 * The lower floor: no HTTP library at all. A `net` server that finds each request's end by its
 * Content-Length and answers with a fixed status line: PUT 201, POST 204 after writing the body as
 * one pre-framed SSE chunk to every open GET, GET stays open as a chunked SSE answer. It parses
 * nothing else and checks nothing; no real server can be cheaper than this on the same machine.
 */
const subscribers = new Set<net.Socket>();
const CREATED = "HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
const APPENDED = "HTTP/1.1 204 No Content\r\n\r\n";
const SSE_HEAD = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

const server = net.createServer({ noDelay: true }, (socket) => {
  let pending: Buffer | undefined;
  socket.on("error", () => subscribers.delete(socket));
  socket.on("close", () => subscribers.delete(socket));
  socket.on("data", (chunk: Buffer) => {
    let buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    for (;;) {
      const headEnd = buffer.indexOf("\r\n\r\n");
      if (headEnd < 0) break;
      const head = buffer.toString("latin1", 0, headEnd);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      const end = headEnd + 4 + length;
      if (buffer.length < end) break;
      if (head.startsWith("GET")) {
        socket.write(SSE_HEAD);
        subscribers.add(socket);
      } else if (head.startsWith("POST")) {
        const event = `event: data\ndata:${buffer.toString("latin1", headEnd + 4, end)}\n\n`;
        const framed = Buffer.from(`${event.length.toString(16)}\r\n${event}\r\n`, "latin1");
        for (const subscriber of subscribers) subscriber.write(framed);
        socket.write(APPENDED);
      } else socket.write(CREATED);
      buffer = buffer.subarray(end);
    }
    if (buffer.length > 0) pending = buffer;
  });
});

serveFloor(server, () => {
  for (const subscriber of subscribers) subscriber.destroy();
});
