/**
 * Serializes async work per key inside one process. An uncontended key costs one Map entry and no
 * promise of its own; callers that find the key held queue in arrival order.
 */
export class KeyedMutex {
  /** Keys being worked on, each with the callers waiting for it. */
  private readonly held = new Map<string, Array<() => void>>();

  /** Whether work on `key` is running or queued. */
  isHeld(key: string): boolean {
    return this.held.has(key);
  }

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const queue = this.held.get(key);
    if (queue) await new Promise<void>((resolve) => queue.push(resolve));
    else this.held.set(key, []);
    try {
      return await work();
    } finally {
      // Hand the key to the next caller, still held, or release it.
      const next = this.held.get(key)?.shift();
      if (next) next();
      else this.held.delete(key);
    }
  }
}
