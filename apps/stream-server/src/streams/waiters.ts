/** Live readers waiting for a stream to change, woken by the backend's change feed. */
export type WaitResult = "changed" | "timeout" | "aborted";

interface Waiter {
  resolve: (result: WaitResult) => void;
}

export class Waiters {
  private readonly byPath = new Map<string, Set<Waiter>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  wake(path: string): void {
    const set = this.byPath.get(path);
    if (!set) return;
    this.byPath.delete(path);
    for (const waiter of set) waiter.resolve("changed");
  }

  wakeAll(): void {
    for (const path of [...this.byPath.keys()]) this.wake(path);
  }

  /** Resolves when `path` changes, the timeout passes or any of `signals` aborts. */
  wait(path: string, timeoutMs: number, ...signals: AbortSignal[]): Promise<WaitResult> {
    if (signals.some((signal) => signal.aborted)) return Promise.resolve("aborted");
    return new Promise((resolve) => {
      let set = this.byPath.get(path);
      if (!set) {
        set = new Set();
        this.byPath.set(path, set);
      }
      const owner = set;
      const finish = (result: WaitResult) => {
        clearTimeout(timer);
        for (const signal of signals) signal.removeEventListener("abort", onAbort);
        if (owner.delete(waiter)) {
          this.count--;
          if (owner.size === 0 && this.byPath.get(path) === owner) this.byPath.delete(path);
        }
        resolve(result);
      };
      const waiter: Waiter = { resolve: finish };
      const onAbort = () => finish("aborted");
      const timer = setTimeout(() => finish("timeout"), timeoutMs);
      for (const signal of signals) signal.addEventListener("abort", onAbort, { once: true });
      owner.add(waiter);
      this.count++;
    });
  }
}
