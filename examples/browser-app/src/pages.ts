import { createHash } from "node:crypto";
import type { Identity } from "./assertion";

/*
 * The app's HTML: a login form and a page that shows who is signed in. The one script (logout) and
 * the one stylesheet are inline, allowed by their hashes in the Content-Security-Policy.
 */

const STYLE = "body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}";

// Logout is session-gate's: the proxy routes /v1/logout on this origin to it, the browser sends the
// session cookie (HttpOnly: no script here can read it), and session-gate ends that session. A 401
// means it was over already. Then to the login page; the dead cookie is replaced at the next login.
const LOGOUT_SCRIPT = `document.getElementById("logout").addEventListener("click", async () => {
  const res = await fetch("/v1/logout", { method: "POST" });
  if (res.status === 204 || res.status === 401) return location.assign("/login");
  const alert = document.getElementById("logout-error");
  alert.textContent = "Logging out failed (" + res.status + "). Try again.";
  alert.hidden = false;
});`;

const hashSource = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src ${hashSource(STYLE)}`,
  `script-src ${hashSource(LOGOUT_SCRIPT)}`,
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
${body}
</body>
</html>
`;
}

/** The login form; `returnTo` is where a successful login goes (already checked: see returnUrl). */
export function loginPage(options: { rd: string; returnTo: string; error?: string }): string {
  return layout(
    "Sign in",
    `<h1>Sign in</h1>
${options.error === undefined ? "" : `<p role="alert">${escapeHtml(options.error)}</p>`}
<form method="post" action="/login">
  <input type="hidden" name="rd" value="${escapeHtml(options.rd)}">
  <p><label>Username <input name="username" autocomplete="username" required></label></p>
  <p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
  <p><button type="submit">Sign in</button></p>
</form>
<p>Then on to <code id="return-to">${escapeHtml(options.returnTo)}</code></p>`,
  );
}

/** A protected page: the identity from the verified assertion, and the logout control. */
export function homePage(identity: Identity, requested: string): string {
  return layout(
    "Signed in",
    `<h1>Signed in as user <span id="user-id">${escapeHtml(identity.userId)}</span></h1>
<p>You asked for <code id="requested">${escapeHtml(requested)}</code>.</p>
<dl>
  <dt>Session</dt><dd id="session-id">${escapeHtml(identity.sessionId)}</dd>
  <dt>Tenant</dt><dd id="tenant-id">${identity.tenantId === null ? "none" : identity.tenantId}</dd>
  <dt>App type</dt><dd id="app-type">${escapeHtml(identity.appType)}</dd>
</dl>
<p>From session-gate's signed assertion, verified with its published keys.</p>
<p><button id="logout" type="button">Log out</button></p>
<p id="logout-error" role="alert" hidden></p>
<script>${LOGOUT_SCRIPT}</script>`,
  );
}
