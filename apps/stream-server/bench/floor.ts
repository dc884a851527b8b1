import { createServer, type ServerResponse } from "node:http";

import { serveFloor } from "./serve-floor";

/**
 * The floor: a node:http server with no protocol, storage or checks. PUT answers 201, POST answers
 * 204 and writes the body as one SSE data event to every open GET, GET stays open as SSE. What it
 * measures is what any single Node process can do on this machine with the bench's client.
 */
const subscribers = new Set<ServerResponse>();

const server = createServer({ noDelay: true }, (req, res) => {
  if (req.method === "GET") {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    subscribers.add(res);
    res.on("close", () => subscribers.delete(res));
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    if (req.method === "POST") {
      const event = Buffer.from(`event: data\ndata:${Buffer.concat(chunks).toString()}\n\n`);
      for (const subscriber of subscribers) subscriber.write(event);
    }
    res.writeHead(req.method === "PUT" ? 201 : 204);
    res.end();
  });
});

serveFloor(server, () => {
  for (const subscriber of subscribers) subscriber.end();
});
