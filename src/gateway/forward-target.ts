import type { OriginTarget } from "./origin-url";

export type ForwardTarget = { ok: true; url: URL } | { ok: false; problem: string };

// Encoded slash or backslash, NUL, and dot segments however written: the origin (or a proxy in
// front of it) may decode them and walk out of ORIGIN_URL's base path, or read the path as another.
const ENCODED_SEPARATOR = /%(2f|5c|00)/i;
const DOT_SEGMENT = /^(\.|%2e){1,2}$/i;

/**
 * Where gateway mode sends a request: always ORIGIN_URL's scheme, host and port, and its path is
 * ORIGIN_URL's base path followed by the request's path, with the request's query.
 *
 *     ORIGIN_URL=https://app.internal/base/   GET /orders?page=2  ->  https://app.internal/base/orders?page=2
 *
 * The path is never resolved against the origin as a relative reference (`//host/x` would then
 * name another host): it is joined as a string onto a URL whose host is already fixed. Paths that
 * could mean something else once the origin decodes them are refused: empty segments (`//`),
 * backslashes, encoded `/`, `\` or NUL, and `.`/`..` segments in any spelling. The request URL has
 * already been normalised by the runtime's URL parser (which turns `\` into `/` and resolves
 * literal dot segments), so what is checked is what would be forwarded.
 */
export function forwardTarget(origin: OriginTarget, requestUrl: URL): ForwardTarget {
  const path = requestUrl.pathname;
  if (!path.startsWith("/")) return { ok: false, problem: "The request path must start with /." };
  if (path.includes("//")) return { ok: false, problem: "The request path has an empty segment (//)." };
  if (path.includes("\\")) return { ok: false, problem: "The request path has a backslash." };
  if (ENCODED_SEPARATOR.test(path)) {
    return { ok: false, problem: "The request path has an encoded /, \\ or NUL (%2F, %5C, %00)." };
  }
  if (path.split("/").some((segment) => DOT_SEGMENT.test(segment))) {
    return { ok: false, problem: "The request path has a . or .. segment." };
  }
  const url = new URL(origin.origin);
  url.pathname = `${origin.basePath}${path}`;
  url.search = requestUrl.search;
  // The rules above make this hold; checked anyway, because the cost of being wrong is an open proxy.
  if (url.origin !== origin.origin || !url.pathname.startsWith(`${origin.basePath}/`)) {
    return { ok: false, problem: "The request path cannot be forwarded." };
  }
  return { ok: true, url };
}
