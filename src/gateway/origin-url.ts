/** Where gateway mode forwards to: `origin` (scheme, host, port) and a base path joined before every path. */
export interface OriginTarget {
  /** e.g. "https://app.internal:8443" */
  origin: string;
  /** ORIGIN_URL's path without its trailing slash: "" or e.g. "/base". */
  basePath: string;
}

/**
 * ORIGIN_URL must be an http(s) URL the gateway can join a path onto: no credentials (they would
 * travel in every forwarded request and in any log of the URL), no query or fragment (there is no
 * sound way to merge them with the client's). A problem never quotes the value.
 */
export function parseOriginUrl(text: string): { ok: true; value: OriginTarget } | { ok: false; problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, problem: "must be an absolute http:// or https:// URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, problem: "must be an http:// or https:// URL" };
  }
  if (url.username !== "" || url.password !== "") return { ok: false, problem: "must not contain a user or password" };
  if (url.search !== "" || url.hash !== "" || text.includes("?") || text.includes("#")) {
    return {
      ok: false,
      problem: "must not have a query or fragment: requests are forwarded to ORIGIN_URL's path plus theirs",
    };
  }
  return { ok: true, value: { origin: url.origin, basePath: url.pathname.replace(/\/+$/, "") } };
}
