import { type Message, type Row, ShapeStream } from "@electric-sql/client";

/**
 * Applies a shape's messages strictly: an insert of a present key, or an
 * update or delete of an absent one, is an error (a doubled or lost change).
 * Records the rows at every up-to-date, when a transaction boundary is reached.
 */
export class StrictMaterializer {
  readonly rows = new Map<string, Row>();
  readonly errors: string[] = [];
  upToDateCount = 0;
  onUpToDate: ((rows: Map<string, Row>) => void) | null = null;

  apply(messages: Message<Row>[]): void {
    for (const message of messages) {
      if ("key" in message) {
        const present = this.rows.has(message.key);
        const op = message.headers.operation;
        if (op === "insert") {
          if (present) this.errors.push(`insert of present ${message.key}`);
          this.rows.set(message.key, { ...message.value });
        } else if (op === "update") {
          if (!present) this.errors.push(`update of absent ${message.key}`);
          this.rows.set(message.key, { ...this.rows.get(message.key), ...message.value });
        } else {
          if (!present) this.errors.push(`delete of absent ${message.key}`);
          this.rows.delete(message.key);
        }
      } else if (message.headers.control === "up-to-date") {
        this.upToDateCount++;
        this.onUpToDate?.(this.rows);
      } else if (message.headers.control === "must-refetch") {
        this.rows.clear();
      }
    }
  }

  static follow(
    url: string,
    params: Record<string, string>,
    signal: AbortSignal,
    liveSse = false,
  ): StrictMaterializer {
    const materializer = new StrictMaterializer();
    const stream = new ShapeStream<Row>({ url, params: params as never, signal, liveSse });
    stream.subscribe((messages) => materializer.apply(messages));
    return materializer;
  }
}
