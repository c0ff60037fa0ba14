import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { createAssertionVerifier } from "./assertion";
import type { BrowserAppConfig } from "./config";
import { CONTENT_SECURITY_POLICY, homePage, loginPage } from "./pages";
import { returnUrl } from "./return-url";
import { issueSession } from "./session-gate";
import type { CheckPassword } from "./users";

/** A login form is a few hundred bytes; anything much larger is not one. */
const MAX_FORM_BYTES = 4096;

/**
 * The application behind the proxy. `/login` is public (the proxy sends it on unchecked); every
 * other path is checked by the proxy first, and this app learns who is asking only from
 * session-gate's signed assertion, never from a bare identity header such as Remote-User, which
 * anything that can reach this port could send.
 *
 * @example
 * ```ts
 * createServer(createBrowserApp(readConfig(process.env), demoUser(process.env))).listen(9000, "127.0.0.1");
 * ```
 */
export function createBrowserApp(config: BrowserAppConfig, checkPassword: CheckPassword): RequestListener {
  const verifyAssertion = createAssertionVerifier(config);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://app.invalid");
    if (url.pathname === "/login") {
      if (req.method === "POST") return login(req, res);
      if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "GET or POST\n");
      const rd = url.searchParams.get("rd") ?? "";
      return send(res, 200, "text/html", loginPage({ rd, returnTo: returnUrl(rd, config.appOrigins) }));
    }

    const assertion = req.headers[config.assertion.header];
    const identity = await verifyAssertion(typeof assertion === "string" ? assertion : undefined);
    if (identity === null) {
      // The proxy lets nothing through without a valid session: this request did not come through it.
      return send(res, 401, "text/plain", "No valid identity assertion.\n");
    }
    if (url.pathname === "/api/me") return send(res, 200, "application/json", JSON.stringify(identity));
    return send(res, 200, "text/html", homePage(identity, url.pathname + url.search));
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Login CSRF: another site's page could otherwise sign the browser in to an account it chose.
    if (!isSameOrigin(req, config.appOrigins)) return send(res, 403, "text/plain", "Cross-site login refused.\n");
    const form = await readForm(req);
    if (form === null) return send(res, 413, "text/plain", "Form too large.\n");
    const rd = form.get("rd") ?? "";
    const user = await checkPassword(form.get("username") ?? "", form.get("password") ?? "");
    if (user === null) {
      const page = loginPage({ rd, returnTo: returnUrl(rd, config.appOrigins), error: "Wrong username or password." });
      return send(res, 401, "text/html", page);
    }
    const token = await issueSession(config, user, req.headers["user-agent"]);
    res.writeHead(303, {
      location: returnUrl(rd, config.appOrigins),
      // HttpOnly: no script reads it; Secure: never over plain HTTP (but localhost); SameSite=Lax:
      // sent on top-level navigations from other sites, not on their subrequests or form posts.
      "set-cookie": `${config.cookieName}=${token}; HttpOnly; Secure; SameSite=Lax; Path=/`,
      "cache-control": "no-store",
    });
    res.end();
  }

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      console.error("browser-app:", error);
      if (res.headersSent) res.destroy();
      else send(res, 500, "text/plain", "Something went wrong.\n");
    });
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    "content-type": `${type}; charset=utf-8`,
    // Pages show who is signed in: never cached, never framed.
    "cache-control": "no-store",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}

/** The browser says the form was posted from this app's own page (Sec-Fetch-Site, else Origin). */
function isSameOrigin(req: IncomingMessage, appOrigins: readonly string[]): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined) return site === "same-origin";
  const origin = req.headers.origin;
  return origin !== undefined && appOrigins.includes(origin);
}

/** The urlencoded body, or null when it is larger than a login form. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_FORM_BYTES) return null;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
