import { createServer, type IncomingHttpHeaders, type Server } from "node:http";

/** What the origin received for one request. */
export interface OriginRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/**
 * The application behind the proxy: it answers every request with the request's method, URL and
 * headers as JSON, and keeps them, so a test can tell what reached it and that a denied one did not.
 */
export async function startEchoOrigin(port: number): Promise<{ server: Server; received: OriginRequest[] }> {
  const received: OriginRequest[] = [];
  const server = createServer((req, res) => {
    const seen: OriginRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers };
    received.push(seen);
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "x-origin": "echo" });
      res.end(JSON.stringify(seen));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return { server, received };
}
