import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus metrics of one server instance. */
export function createMetrics() {
  const registry = new Registry();
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
