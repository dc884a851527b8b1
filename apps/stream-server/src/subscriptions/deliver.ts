import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { publicOnlyLookup, type WebhookTarget } from "./webhook-url";

/** The receiver's answer to a delivery: 2xx, and whether it asked to finish the wake at once. */
export interface DeliveryResult {
  ok: boolean;
  status: number;
  done: boolean;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/** POSTs one signed notification; never follows redirects; the response body is read up to 64 KiB. */
export function postWebhook(
  target: WebhookTarget,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<DeliveryResult> {
  const send = target.url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target.url,
      {
        method: "POST",
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
        timeout: timeoutMs,
        ...(target.explicit ? {} : { lookup: publicOnlyLookup }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
          else res.destroy();
        });
        res.on("close", () => {
          const status = res.statusCode ?? 0;
          let done = false;
          try {
            done = JSON.parse(Buffer.concat(chunks).toString("utf8"))?.done === true;
          } catch {
            done = false;
          }
          resolve({ ok: status >= 200 && status < 300, status, done });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("webhook delivery timed out")));
    req.on("error", reject);
    req.end(body);
  });
}
