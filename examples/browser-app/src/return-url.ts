/**
 * Where the login page sends the browser once it has a session: `rd`, the page it first asked for
 * (session-gate put it in the redirect to LOGIN_URL), when that is a URL on one of this app's own
 * origins; "/" otherwise. Never anywhere else: a login page that follows any `rd` is an open
 * redirect, a ready-made phishing link on your own domain.
 */
export function returnUrl(rd: string | null, appOrigins: readonly string[]): string {
  if (rd === null || rd === "") return "/";
  let url: URL;
  try {
    url = new URL(rd);
  } catch {
    return "/";
  }
  if (url.username !== "" || url.password !== "") return "/";
  // `origin` is scheme, host and port as a browser compares them ("null" for javascript: and data:).
  return appOrigins.includes(url.origin) ? url.href : "/";
}
