/*
 * Browsers go to the login page, APIs get the 401: a request that would be refused for want of a
 * valid session, and that is a top-level navigation, is sent to LOGIN_URL with `rd` the URL it
 * asked for, so the login page can send it back. `rd` only ever names a host in
 * REDIRECT_ALLOWED_HOSTS: whatever a client or a header claims, the redirect is no open redirect.
 */

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** LOGIN_URL: an absolute http(s) URL, no credentials, no fragment (its own query is kept). */
export function parseLoginUrl(text: string): Parsed<URL> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, problem: "must be an absolute http:// or https:// URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return { ok: false, problem: "must be an http:// or https:// URL" };
  if (url.username !== "" || url.password !== "") return { ok: false, problem: "must not contain a user or password" };
  if (url.hash !== "" || text.includes("#")) return { ok: false, problem: "must not have a fragment" };
  return { ok: true, value: url };
}

/** REDIRECT_ALLOWED_HOSTS: `host` or `host:port`, comma-separated, compared lowercased. */
export function parseAllowedHosts(text: string): Parsed<string[]> {
  const hosts = text
    .split(",")
    .map((host) => host.trim().toLowerCase())
    .filter((host) => host !== "");
  for (const host of hosts) {
    let url: URL;
    try {
      url = new URL(`http://${host}`);
    } catch {
      return { ok: false, problem: "must list hosts (`app.example.com` or `app.example.com:8443`), comma-separated" };
    }
    if (url.host !== host && `${url.hostname}:80` !== host) {
      return { ok: false, problem: "must list bare hosts: no scheme, path, user or wildcard" };
    }
  }
  return { ok: true, value: hosts };
}

/**
 * A top-level browser navigation: `Sec-Fetch-Mode: navigate` where browsers send it; otherwise an
 * `Accept` that prefers HTML, from something that does not say it is script (`X-Requested-With`).
 */
export function isBrowserNavigation(headers: Headers): boolean {
  const mode = headers.get("sec-fetch-mode");
  if (mode !== null) return mode === "navigate";
  if (headers.get("x-requested-with") !== null) return false;
  return prefersHtml(headers.get("accept") ?? "");
}

function prefersHtml(accept: string): boolean {
  let html = 0;
  let other = 0;
  for (const part of accept.split(",")) {
    const [type = "", ...params] = part.split(";").map((p) => p.trim().toLowerCase());
    const q = Number(params.find((p) => p.startsWith("q="))?.slice(2) ?? "1");
    const weight = Number.isFinite(q) ? q : 0;
    if (type === "text/html" || type === "application/xhtml+xml") html = Math.max(html, weight);
    else if (type !== "*/*" && type !== "") other = Math.max(other, weight);
  }
  return html > 0 && html >= other;
}

/**
 * The URL the browser asked for. At `/v1/validate` a proxy asks on its behalf and says what the
 * browser asked in headers: Traefik and Caddy send `X-Forwarded-Proto`, `-Host` and `-Uri`, the
 * nginx recipe sends `X-Original-URL`. Everywhere else (gateway mode, `sessionAuth`) the request
 * is the browser's own. Null when nothing usable says.
 */
export function originalUrl(request: Request, forwarded: boolean): URL | null {
  const parse = (text: string) => {
    try {
      return new URL(text);
    } catch {
      return null;
    }
  };
  if (!forwarded) return parse(request.url);
  const headers = request.headers;
  const original = headers.get("x-original-url");
  if (original !== null) return parse(original);
  const proto = headers.get("x-forwarded-proto");
  const host = headers.get("x-forwarded-host");
  const uri = headers.get("x-forwarded-uri") ?? "/";
  if (proto === null || host === null || !uri.startsWith("/") || uri.startsWith("//")) return null;
  return parse(`${proto}://${host}${uri}`);
}

/**
 * Where to send a browser that has no valid session: LOGIN_URL, with `rd` the original URL when
 * that URL is http(s), carries no credentials and names an allowed host; else without `rd`.
 */
export function loginLocation(loginUrl: URL, allowedHosts: readonly string[], original: URL | null): string {
  const location = new URL(loginUrl);
  if (original !== null && isAllowedReturn(original, allowedHosts)) location.searchParams.set("rd", original.href);
  else location.searchParams.delete("rd");
  return location.href;
}

function isAllowedReturn(url: URL, allowedHosts: readonly string[]): boolean {
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  if (url.username !== "" || url.password !== "") return false;
  return allowedHosts.includes(url.host.toLowerCase());
}
