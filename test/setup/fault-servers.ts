import { createServer, type Server } from "node:http";
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from "node:net";

/*
 * Stand-ins for a database in trouble, each on its own loopback port, so a test selects a fault by
 * pointing DATABASE_URL there: no global switch, nothing for parallel tests to trip over.
 */

/** Answers every request with a 500, as Neon's endpoint does when it fails. */
export function startFailingServer(): Promise<Server> {
  return listen((_req, res) => {
    res.writeHead(500, { "content-type": "text/plain" }).end("injected failure");
  });
}

/**
 * Forwards to the real stand-in after `delayMs`: a database slower than the Worker's deadline.
 * A client that gives up is gone for good, as it is for Neon: if it leaves during the delay
 * nothing is forwarded, and if it leaves during the forward that fetch is aborted, so the stand-in
 * sees its client go and cancels the statement.
 */
export function startSlowServer(targetUrl: string, delayMs: number): Promise<Server> {
  return listen((req, res) => {
    const upstream = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) upstream.abort();
    });
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const timer = setTimeout(() => void forward(), delayMs);
      upstream.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
    });

    async function forward() {
      // The stand-in checks Host against its own address: the forwarded request gets its own.
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          (e): e is [string, string] => typeof e[1] === "string" && e[0] !== "host" && e[0] !== "connection",
        ),
      );
      try {
        const answer = await fetch(`${targetUrl}${req.url ?? "/sql"}`, {
          method: req.method,
          headers,
          body: Buffer.concat(chunks),
          signal: upstream.signal,
        });
        res.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text());
      } catch {
        if (!upstream.signal.aborted) res.writeHead(502).end();
      }
    }
  });
}

/**
 * A TCP relay to `targetPort` on loopback whose connections can all be cut at once: a database
 * connection lost in the middle of a statement, without Postgres saying anything first.
 */
export async function startTcpRelay(
  targetPort: number,
): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      // A cut relays as a closed connection; the error itself is expected.
      socket.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const cut = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: (server.address() as AddressInfo).port,
    cut,
    close() {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port nothing listens on: a database that is down. */
export async function findClosedPort(): Promise<number> {
  const server = await listen(() => {});
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}
