import { createServer, type Server, type ServerResponse } from "node:http";
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
  return startForwardingServer(targetUrl, { delayMs }, (answer, res) => {
    res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
  });
}

/**
 * The faults of a misbehaving wire between the Worker and Neon, each a server of its own. "ran"
 * ones forward to the real stand-in first, so the statement genuinely ran (and a write committed)
 * before the answer goes wrong; the others never reach the database.
 */
export const WIRE_FAULTS = {
  /** The connection reset (RST) once the request is in, before any answer. */
  resetBeforeResponse: { ran: false, answer: (_answer, res) => reset(res) },
  /** The statement's answer cut by a reset halfway through its body (Content-Length promised whole). */
  resetMidBody: {
    ran: true,
    answer: (answer, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": answer.body.length });
      // Let the first half reach the client before the reset, which would discard unsent bytes.
      res.write(answer.body.subarray(0, answer.body.length >> 1), () => setTimeout(() => reset(res), 50));
    },
  },
  /** A 200 whose body is the first half of the statement's answer, cleanly framed: only the JSON is cut. */
  truncated: {
    ran: true,
    answer: (answer, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(answer.body.subarray(0, answer.body.length >> 1));
    },
  },
  /** A 200 that is not JSON at all: an intermediary's page. */
  invalidJson: {
    ran: false,
    answer: (_answer, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end("<html><body>Please wait…</body></html>");
    },
  },
  /** A 200 whose body is a Postgres error, as Neon sends with a 400. */
  errorBody: {
    ran: false,
    answer: (_answer, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          message: "terminating connection due to administrator command",
          code: "57P01",
          severity: "FATAL",
        }),
      );
    },
  },
  /** An intermediary that could not reach the database. */
  badGateway: {
    ran: false,
    answer: (_answer, res) => {
      res.writeHead(502, { "content-type": "text/html" }).end("<html><body>502 Bad Gateway</body></html>");
    },
  },
  /** An intermediary that gave up waiting for an answer the database did go on to give. */
  gatewayTimeout: {
    ran: true,
    answer: (_answer, res) => {
      res.writeHead(504, { "content-type": "text/html" }).end("<html><body>504 Gateway Timeout</body></html>");
    },
  },
  /** The statement's answer, one byte a second: headers on time, a body that never quite arrives. */
  drip: {
    ran: true,
    answer: (answer, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": answer.body.length });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(answer.body.subarray(sent, sent + 1));
        sent += 1;
        if (sent === answer.body.length) {
          clearInterval(timer);
          res.end();
        }
      }, 1000);
      res.on("close", () => clearInterval(timer));
    },
  },
  /**
   * The statement's answer after HUGE_RESPONSE_BYTES of leading whitespace: still valid JSON, far
   * past the 10 MiB Neon ever sends, and more than an isolate's 128 MB to hold. Streamed as the
   * client reads it, so a client that stops reading stops the server.
   */
  huge: {
    ran: true,
    answer: (answer, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const padding = Buffer.alloc(64 * 1024, " ");
      let sent = 0;
      const pump = () => {
        while (sent < HUGE_RESPONSE_BYTES) {
          sent += padding.length;
          if (!res.write(padding)) return void res.once("drain", pump);
        }
        res.end(answer.body);
      };
      res.on("close", () => {
        sent = Number.POSITIVE_INFINITY;
      });
      pump();
    },
  },
} satisfies Record<string, { ran: boolean; answer: AnswerFault }>;

export type WireFault = keyof typeof WIRE_FAULTS;

/** How much whitespace the `huge` fault sends ahead of the answer. */
export const HUGE_RESPONSE_BYTES = 256 * 1024 * 1024;

export function startWireFaultServer(targetUrl: string, fault: WireFault): Promise<Server> {
  const { ran, answer } = WIRE_FAULTS[fault];
  return ran
    ? startForwardingServer(targetUrl, { delayMs: 0 }, answer)
    : listen((req, res) => {
        req.resume();
        req.on("end", () => answer({ status: 0, body: Buffer.alloc(0) }, res));
      });
}

/** The stand-in's answer to a forwarded request, and the response to spoil it in. */
type AnswerFault = (answer: { status: number; body: Buffer }, res: ServerResponse) => void;

/** Sends a TCP reset: the peer sees ECONNRESET, not a clean end. */
function reset(res: ServerResponse): void {
  res.socket?.resetAndDestroy();
}

/**
 * Forwards each request to the stand-in (after `delayMs`) and hands its answer to `answer`.
 * A client that leaves first takes the forward with it (see startSlowServer).
 */
function startForwardingServer(targetUrl: string, options: { delayMs: number }, answer: AnswerFault): Promise<Server> {
  return listen((req, res) => {
    const upstream = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) upstream.abort();
    });
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const timer = setTimeout(() => void forward(), options.delayMs);
      upstream.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
    });

    async function forward() {
      // The stand-in checks Host against its own address: the forwarded request gets its own.
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          (e): e is [string, string] => typeof e[1] === "string" && e[0] !== "host" && e[0] !== "connection",
        ),
      );
      let stored: { status: number; body: Buffer };
      try {
        const response = await fetch(`${targetUrl}${req.url ?? "/sql"}`, {
          method: req.method,
          headers,
          body: Buffer.concat(chunks),
          signal: upstream.signal,
        });
        stored = { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
      } catch {
        if (!upstream.signal.aborted) res.writeHead(502).end();
        return;
      }
      if (!upstream.signal.aborted) answer(stored, res);
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
