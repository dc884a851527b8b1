import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus metrics of one server instance. */
export function createMetrics() {
  const registry = new Registry();
  const subscriptionCount = { read: () => 0 };
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    appends: new Counter({ name: "ds_appends_total", help: "Accepted appends", registers: [registry] }),
    appendBytes: new Counter({
      name: "ds_append_bytes_total",
      help: "Bytes appended",
      registers: [registry],
    }),
    liveConnections: new Gauge({
      name: "ds_live_connections",
      help: "Open SSE connections and pending long-polls",
      labelNames: ["mode"],
      registers: [registry],
    }),
    /** Set by whoever owns the subscriptions; read at each scrape. */
    subscriptionCount,
    subscriptions: new Gauge({
      name: "ds_subscriptions",
      help: "Webhook and pull-wake subscriptions known to this instance",
      registers: [registry],
      collect() {
        this.set(subscriptionCount.read());
      },
    }),
    webhookDeliveries: new Counter({
      name: "ds_webhook_deliveries_total",
      help: "Webhook deliveries by outcome (ok: a 2xx answer; failed: anything else, retried later)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    wakeEvents: new Counter({
      name: "ds_wake_events_total",
      help: "Wake events written to pull-wake streams",
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: "ds_request_duration_seconds",
      help: "Latency of non-live requests",
      labelNames: ["method", "status"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
