/**
 * Whether a request comes from a page of the same origin: what makes a cookie-authenticated,
 * state-changing request safe from cross-site request forgery. Browsers that send
 * `Sec-Fetch-Site` say it themselves (only `same-origin` passes: a sibling subdomain is
 * same-site, not same-origin); without it, `Origin` must be this service's own origin, as the
 * browser saw it (through a proxy: `X-Forwarded-Proto` and `-Host`, which a page cannot set on a
 * cross-site request). A request that says neither is refused: a browser always says one.
 */
export function isSameOriginRequest(request: Request): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null) return site === "same-origin";
  const origin = request.headers.get("origin");
  if (origin === null) return false;
  const url = new URL(request.url);
  const proto = request.headers.get("x-forwarded-proto");
  const host = request.headers.get("x-forwarded-host");
  const self = proto !== null && host !== null ? `${proto}://${host}` : url.origin;
  return origin.toLowerCase() === self.toLowerCase();
}
