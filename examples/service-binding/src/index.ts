import type { SessionValidator } from "session-gate";

interface Env {
  /** session-gate's `SessionValidator` entrypoint (wrangler.toml `[[services]]`). */
  SESSIONS: Service<SessionValidator>;
}

/**
 * Answers `GET /me` for the bearer token of the request, and `GET /tenant/me` only for tenant_app
 * sessions: the check runs in session-gate, this Worker only maps its outcome to HTTP.
 */
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== "/me" && url.pathname !== "/tenant/me") return new Response("Not found", { status: 404 });
    const token = /^Bearer ([^\s]+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    if (token === undefined) return challenge(401, "");

    const result = await env.SESSIONS.validate(token, url.pathname === "/tenant/me" ? { appType: "tenant_app" } : {});
    if (result.ok) {
      const { id, userId, tenantId, appType } = result.session;
      return Response.json({ sessionId: id, userId, tenantId, appType });
    }
    switch (result.reason) {
      // Fail closed: the session store could not answer, so nobody is let in.
      case "unavailable":
        return new Response("Service unavailable", { status: 503, headers: { "retry-after": "5" } });
      case "app_type_mismatch":
      case "tenant_mismatch":
        return challenge(403, ', error="insufficient_scope"');
      case "malformed_credentials":
        return challenge(401, ', error="invalid_request"');
      default:
        return challenge(401, ', error="invalid_token"');
    }
  },
} satisfies ExportedHandler<Env>;

function challenge(status: 401 | 403, error: string): Response {
  return new Response(status === 401 ? "Unauthorized" : "Forbidden", {
    status,
    headers: { "www-authenticate": `Bearer realm="example"${error}` },
  });
}
