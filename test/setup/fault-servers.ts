import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

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

/** Forwards to the real stand-in after `delayMs`: a database slower than the Worker's deadline. */
export function startSlowServer(targetUrl: string, delayMs: number): Promise<Server> {
  return listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      setTimeout(() => {
        // The stand-in checks Host against its own address: the forwarded request gets its own.
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(
            (e): e is [string, string] => typeof e[1] === "string" && e[0] !== "host" && e[0] !== "connection",
          ),
        );
        fetch(`${targetUrl}${req.url ?? "/sql"}`, {
          method: req.method,
          headers,
          body: Buffer.concat(chunks),
        })
          .then(async (upstream) =>
            res
              .writeHead(upstream.status, {
                "content-type": "application/json",
              })
              .end(await upstream.text()),
          )
          .catch(() => res.writeHead(502).end());
      }, delayMs);
    });
  });
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
