import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";

/** What the origin received for one request. */
export interface OriginRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface Origin {
  server: Server;
  /** Every request that reached the origin, in order. */
  received: OriginRequest[];
  /** Stops listening and drops the proxies' idle keep-alive connections. */
  close(): Promise<void>;
}

/**
 * The application behind the proxy, on `port`: `app` answers, and every request is kept first, so
 * a test can tell what reached it (headers included) and that a denied one did not.
 */
export async function startOrigin(port: number, app: RequestListener): Promise<Origin> {
  const received: OriginRequest[] = [];
  const server = createServer((req, res) => {
    received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    app(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    server,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** An origin that answers every request with the request's method, URL and headers as JSON. */
export function startEchoOrigin(port: number): Promise<Origin> {
  return startOrigin(port, (req, res) => {
    const seen: OriginRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers };
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "x-origin": "echo" });
      res.end(JSON.stringify(seen));
    });
  });
}
