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

  wait(path: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitResult> {
    if (signal?.aborted) return Promise.resolve("aborted");
    return new Promise((resolve) => {
      let set = this.byPath.get(path);
      if (!set) {
        set = new Set();
        this.byPath.set(path, set);
      }
      const owner = set;
      const finish = (result: WaitResult) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (owner.delete(waiter)) {
          this.count--;
          if (owner.size === 0 && this.byPath.get(path) === owner) this.byPath.delete(path);
        }
        resolve(result);
      };
      const waiter: Waiter = { resolve: finish };
      const onAbort = () => finish("aborted");
      const timer = setTimeout(() => finish("timeout"), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      owner.add(waiter);
      this.count++;
    });
  }
}
