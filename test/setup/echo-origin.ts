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
 * requests for path P reached it (and how many reached it at all), `?probe=ID` how many tagged
 * `X-Probe: ID`, so a test can prove a rejected request never did. A second one plays the attacker's server that no request may ever reach.
 */
export function startEchoOrigin(): Promise<Server> {
  const seen = new Map<string, number>();
  const probes = new Map<string, number>();
  let total = 0;
  const server = createServer((req, res) => {
    // Not `new URL(req.url, base)`: a request target like //host/x must count as the path it is.
    const [pathname = "", query = ""] = (req.url ?? "/").split("?", 2);
    if (pathname === "/__echo/seen") {
      res.writeHead(200, { "content-type": "application/json" });
      const params = new URLSearchParams(query);
      const count = params.has("probe")
        ? (probes.get(params.get("probe") ?? "") ?? 0)
        : (seen.get(params.get("path") ?? "") ?? 0);
      res.end(JSON.stringify({ count, total }));
      return;
    }
    total += 1;
    seen.set(pathname, (seen.get(pathname) ?? 0) + 1);
    // A test can also tag a request with `X-Probe: <id>` and ask whether that one arrived.
    const probe = req.headers["x-probe"];
    if (typeof probe === "string") probes.set(probe, (probes.get(probe) ?? 0) + 1);
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
