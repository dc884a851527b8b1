/**
 * Bench of the chat API over real HTTP (127.0.0.1) against a real Postgres:
 * sendMessage latency, and the claim → save turn loop with several desktops
 * competing for the same queue. Usage: `npm run bench -w @superset/api`.
 * Starts an embedded Postgres unless SUPERSET_TEST_PG_URL is set.
 */
import { prepareTestPostgres } from "@superset/db/test-setup";
import { TEST_PG_URL_ENV } from "@superset/db/testing";
import { type ApiClient, createApiClient } from "@superset/trpc/client";
import { signIn, signUp, startTestApi } from "../test/support/server";

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const fmt = (ms: number) => ms.toFixed(1);

interface Row {
  scenario: string;
  ops: number;
  p50: number;
  p99: number;
  perSecond: number;
}

async function timed<T>(fn: () => Promise<T>, samples: number[]): Promise<T> {
  const start = performance.now();
  const result = await fn();
  samples.push(performance.now() - start);
  return result;
}

function row(scenario: string, samples: number[], wallMs: number): Row {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    scenario,
    ops: samples.length,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    perSecond: (samples.length / wallMs) * 1000,
  };
}

async function main() {
  const pg = await prepareTestPostgres();
  process.env[TEST_PG_URL_ENV] = pg.url;
  const api = await startTestApi({ leaseMs: 30_000 });
  const rows: Row[] = [];
  try {
    await signUp(api.url, "Bench", "bench@example.com");
    const { bearer } = await signIn(api.url, "bench@example.com");
    const user = createApiClient({ url: api.url, bearer, batch: false });

    // 1. sendMessage, one client, sequential.
    const session = await user.chat.createSession.mutate({ workspaceId: "ws-solo" });
    const sendSamples: number[] = [];
    let started = performance.now();
    for (let i = 0; i < 300; i++) {
      await timed(
        () => user.chat.sendMessage.mutate({ sessionId: session.id, content: `m${i}` }),
        sendSamples,
      );
    }
    rows.push(row("chat.sendMessage (1 client, sequential)", sendSamples, performance.now() - started));

    // 2. Turn loop: D desktops claim and save from a shared queue of S sessions.
    for (const deviceCount of [1, 4, 8]) {
      const workspace = `ws-${deviceCount}`;
      const sessions = await Promise.all(
        Array.from({ length: 16 }, () => user.chat.createSession.mutate({ workspaceId: workspace })),
      );
      const perSession = 10;
      for (let i = 0; i < perSession; i++) {
        await Promise.all(
          sessions.map((s) => user.chat.sendMessage.mutate({ sessionId: s.id, content: `q${i}` })),
        );
      }
      const desktops: ApiClient[] = [];
      for (let d = 0; d < deviceCount; d++) {
        const { deviceToken } = await user.device.register.mutate({
          name: `D${d}`,
          workspaceIds: [workspace],
        });
        desktops.push(createApiClient({ url: api.url, deviceToken, batch: false }));
      }
      const claimSamples: number[] = [];
      const saveSamples: number[] = [];
      const total = sessions.length * perSession;
      let done = 0;
      const seen = new Set<string>();
      started = performance.now();
      await Promise.all(
        desktops.map(async (desktop) => {
          while (done < total) {
            const claimed = await timed(() => desktop.device.claimNext.mutate({}), claimSamples);
            if (!claimed) {
              await new Promise((r) => setTimeout(r, 2));
              continue;
            }
            if (seen.has(claimed.id)) throw new Error(`message ${claimed.id} claimed twice`);
            seen.add(claimed.id);
            await timed(
              () => desktop.chat.saveAssistantMessage.mutate({ messageId: claimed.id, content: "ok" }),
              saveSamples,
            );
            done++;
          }
        }),
      );
      const wall = performance.now() - started;
      rows.push(row(`device.claimNext (${deviceCount} desktops, incl. empty polls)`, claimSamples, wall));
      const turns = row(
        `chat.saveAssistantMessage (${deviceCount} desktops; ops/s = turns/s)`,
        saveSamples,
        wall,
      );
      rows.push(turns);
      if (seen.size !== total) throw new Error(`expected ${total} distinct messages, got ${seen.size}`);
    }
  } finally {
    await api.close();
    await pg.stop();
  }
  const lines = [
    "| scenario | ops | p50 ms | p99 ms | ops/s |",
    "|---|---:|---:|---:|---:|",
    ...rows.map(
      (r) => `| ${r.scenario} | ${r.ops} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.perSecond.toFixed(0)} |`,
    ),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
