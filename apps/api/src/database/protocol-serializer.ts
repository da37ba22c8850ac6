import type { PGlite } from '@electric-sql/pglite';

/**
 * Makes @electric-sql/pglite-socket's multiplexer (pinned at 0.2.17) keep each client's
 * extended-query sequence together. PGlite is ONE backend: every `pg` client connected to the
 * socket server shares its unnamed prepared statement and portal. The server's queue runs
 * messages one at a time and only keeps a client's messages together inside a transaction, so
 * client A's Parse/Bind can be followed by client B's Parse before A's Execute: A then fails with
 * "portal does not exist" or runs B's statement. This replaces the queue's scheduler so that once
 * a client starts a sequence (Parse, Bind, Describe, Execute, Close, Flush, CopyData), only that
 * client's messages run until its Sync (or a simple Query, or it disconnects); a transaction keeps
 * its client too, as before. No maintained library serves PGlite over the wire protocol with
 * this fixed; the patch goes once upstream fixes it (a test fails without it).
 */

interface QueuedMessage {
  handlerId: number;
  message: Uint8Array;
  resolve(bytes: number): void;
  reject(error: unknown): void;
  onData(data: Uint8Array): void;
}

interface QueryQueue {
  queue: QueuedMessage[];
  processing: boolean;
  lastHandlerId: number | null;
  db: PGlite;
  processQueue(): Promise<void>;
  clearQueueForHandler(handlerId: number): void;
}

// Frontend message types that continue an extended-query (or COPY) sequence until Sync.
const CONTINUES_SEQUENCE = new Set(['P', 'B', 'D', 'E', 'C', 'H', 'd'].map((c) => c.charCodeAt(0)));

export function serializeProtocolSequences(server: unknown): void {
  const queue = (server as { queryQueue?: QueryQueue }).queryQueue;
  if (!queue || typeof queue.processQueue !== 'function' || !Array.isArray(queue.queue)) {
    throw new Error(
      'pglite-socket internals changed: review database/protocol-serializer.ts against the new version',
    );
  }
  // The client in the middle of a sequence, if any: only its messages may run.
  let owner: number | null = null;

  const clear = queue.clearQueueForHandler.bind(queue);
  queue.clearQueueForHandler = (handlerId) => {
    clear(handlerId);
    if (owner === handlerId) {
      owner = null;
      // Messages of other clients may be waiting on the departed one.
      void queue.processQueue();
    }
  };

  queue.processQueue = async function processQueue(this: QueryQueue) {
    if (this.processing || this.queue.length === 0) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        const keep = owner ?? (this.db.isInTransaction() ? this.lastHandlerId : null);
        const index = keep === null ? 0 : this.queue.findIndex((entry) => entry.handlerId === keep);
        // The sequence's client has not sent its next message yet: its enqueue restarts us.
        if (index === -1) break;
        const [entry] = this.queue.splice(index, 1);
        if (!entry) break;
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(entry.message, {
              onRawData: (data: Uint8Array) => {
                bytes += data.length;
                entry.onData(data);
              },
            }),
          );
        } catch (error) {
          owner = null;
          entry.reject(error);
          continue;
        }
        this.lastHandlerId = entry.handlerId;
        const type = entry.message[0] ?? 0;
        owner = CONTINUES_SEQUENCE.has(type) ? entry.handlerId : null;
        entry.resolve(bytes);
      }
    } finally {
      this.processing = false;
    }
  };
}
