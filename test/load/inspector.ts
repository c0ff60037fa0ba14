/*
 * A minimal Chrome DevTools Protocol client for workerd's inspector (Miniflare's `inspectorPort`):
 * one WebSocket per Worker, at ws://host:port/core:user:<worker name>. Enough to force a garbage
 * collection, read the isolate's heap, and take a heap snapshot.
 */

export interface HeapUsage {
  usedMb: number;
  totalMb: number;
}

export interface Inspector {
  /**
   * The heap after a full collection. workerd's inspector does not answer
   * HeapProfiler.collectGarbage; a heap snapshot collects garbage first (V8 always does), so one is
   * taken and its summary returned alongside.
   */
  heapAfterGc(): Promise<HeapUsage & { byConstructor: Map<string, { count: number; bytes: number }> }>;
  /** Any other CDP method. */
  send<T>(method: string, params?: object): Promise<T>;
  close(): void;
}

export async function connectInspector(port: number, workerName: string): Promise<Inspector> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/core:user:${workerName}`);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error(`no inspector for ${workerName} on port ${port}`)), {
      once: true,
    });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  const chunks: string[] = [];
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
      method?: string;
      params?: { chunk?: string };
    };
    if (message.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(message.params?.chunk ?? "");
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(message.error.message));
    else waiter?.resolve(message.result);
  });

  const send = <T>(method: string, params: object = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });

  // workerd acknowledges takeHeapSnapshot by echoing the request; the snapshot's chunks may still be
  // arriving then, so it is complete when the chunks parse as JSON.
  const snapshot = async () => {
    chunks.length = 0;
    await send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    for (let waited = 0; waited < 60_000; waited += 50) {
      try {
        return summarise(JSON.parse(chunks.join("")) as HeapSnapshot);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    throw new Error("the heap snapshot never completed");
  };

  return {
    async heapAfterGc() {
      const byConstructor = await snapshot();
      const usage = await send<{ usedSize: number; totalSize: number }>("Runtime.getHeapUsage");
      return { usedMb: usage.usedSize / 2 ** 20, totalMb: usage.totalSize / 2 ** 20, byConstructor };
    },
    send,
    close() {
      socket.close();
    },
  };
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Objects grouped by what V8 calls them: a constructor's name, or the kind (string, closure, ...). */
function summarise(heap: HeapSnapshot): Map<string, { count: number; bytes: number }> {
  const fields = heap.snapshot.meta.node_fields;
  const stride = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types = heap.snapshot.meta.node_types[0];
  const byName = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < heap.nodes.length; i += stride) {
    const type = types[heap.nodes[i + typeAt] as number] ?? "?";
    const key =
      type === "object" || type === "closure" ? `${type}:${heap.strings[heap.nodes[i + nameAt] as number]}` : type;
    const entry = byName.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += heap.nodes[i + sizeAt] as number;
    byName.set(key, entry);
  }
  return byName;
}
