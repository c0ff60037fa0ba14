import { createServer, type Server } from "node:http";

/** What the echo origin saw of a request, sent back as its JSON body. */
export interface EchoedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A real origin server for the gateway tests: it answers every request with what it received, so a
 * test can check exactly what the Worker forwarded. `GET /__echo/seen?path=P` tells how many
 * requests for path P reached it, so a test can prove a rejected request never did.
 */
export function startEchoOrigin(): Promise<Server> {
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://origin");
    if (url.pathname === "/__echo/seen") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ count: seen.get(url.searchParams.get("path") ?? "") ?? 0 }));
      return;
    }
    seen.set(url.pathname, (seen.get(url.pathname) ?? 0) + 1);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const echoed: EchoedRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=60", "x-origin": "echo" });
      res.end(JSON.stringify(echoed));
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}
