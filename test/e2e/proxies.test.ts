import { randomBytes, randomUUID } from "node:crypto";
import { get, type IncomingHttpHeaders } from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Origin, type OriginRequest, startEchoOrigin } from "./echo-origin";
import { PORTS } from "./ports";
import { type Stack, startStack } from "./stack";

/*
 * Forward auth with the real proxies: nginx (auth_request) and Caddy (forward_auth), each running
 * the file published in docs/proxies/ unchanged, in front of a real origin, asking the Worker under
 * `wrangler dev`, which asks the database through the genuine Neon driver and the stand-in. The
 * Worker runs as the files expect it (stack.ts): the user's id as Remote-User, a signed assertion,
 * and a login page for browsers (test/e2e/browser.test.ts follows a real browser through it).
 */

let stack: Stack;
let origin: Origin;

beforeAll(async () => {
  origin = await startEchoOrigin(PORTS.origin);
  try {
    stack = await startStack();
  } catch (error) {
    await origin.close();
    throw error;
  }
});

afterAll(async () => {
  await stack?.stop();
  await origin?.close();
});

interface SessionSpec {
  appType?: "control_panel" | "tenant_app";
  withTenant?: boolean;
  /** Seconds until the absolute expiry; negative: already expired. */
  absoluteInSeconds?: number;
}

/** A user (and tenant) and a session of theirs, written as the existing application writes them. */
async function createSession(spec: SessionSpec = {}) {
  const token = randomBytes(32).toString("base64url");
  const result = await stack.standIn.backend.query(
    `with new_user as (insert into users default values returning id),
          new_tenant as (insert into tenants default values returning id)
     insert into sessions (user_id, tenant_id, session_token_hash, absolute_expires_at, app_type, user_agent)
     select new_user.id, case when $4::boolean then new_tenant.id end, encode(sha256(convert_to($1, 'UTF8')), 'hex'),
            now() + make_interval(secs => $2::int), $3, 'e2e'
     from new_user, new_tenant
     returning id, user_id, tenant_id`,
    [token, String(spec.absoluteInSeconds ?? 3600), spec.appType ?? "control_panel", String(spec.withTenant ?? false)],
  );
  const [id, userId, tenantId] = result.rows[0] ?? [];
  if (!id || !userId) throw new Error("no session row");
  return { token, id, userId, tenantId: tenantId ?? null };
}

/** What the origin received for `path`: nothing, if the proxy denied the request. */
function originSaw(path: string): OriginRequest[] {
  return origin.received.filter((r) => r.url === path);
}

const uniquePath = (prefix: string) => `${prefix}${randomUUID()}`;

/** An assertion the origin received, verified as an origin does: session-gate's JWKS, issuer, audience. */
function verifyAssertion(jwt: string | string[] | undefined) {
  const jwks = createRemoteJWKSet(new URL("/.well-known/jwks.json", stack.browser.sessionGateUrl));
  return jwtVerify(typeof jwt === "string" ? jwt : "", jwks, {
    issuer: stack.browser.assertionIssuer,
    audience: stack.browser.assertionAudience,
  });
}

/**
 * A request as a browser's top-level navigation sends it. Not fetch(): undici always sends
 * `Sec-Fetch-Mode: cors`, whatever the caller sets.
 */
function navigate(url: string): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    get(
      url,
      { headers: { "sec-fetch-mode": "navigate", "sec-fetch-dest": "document", accept: "text/html" } },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    ).on("error", reject);
  });
}

const IDENTITY_HEADERS = ["x-session-id", "remote-user", "x-tenant-id", "x-app-type", "x-session-assertion"];
const spoofedIdentity = Object.fromEntries(IDENTITY_HEADERS.map((name) => [name, "7"]));

const PROXIES = [
  ["nginx", PORTS.nginx],
  ["caddy", PORTS.caddy],
] as const;

describe.each(PROXIES)("%s in front of the origin", (_proxy, port) => {
  const base = `http://127.0.0.1:${port}`;
  const send = (path: string, headers: Record<string, string> = {}, method = "GET") =>
    fetch(`${base}${path}`, { method, headers, redirect: "manual" });

  it("lets a valid session through with the identity headers and the assertion, replacing client-sent ones", async () => {
    const s = await createSession({ appType: "tenant_app", withTenant: true });
    const path = uniquePath("/app/orders/");
    const res = await send(`${path}?page=2`, {
      authorization: `Bearer ${s.token}`,
      "remote-user": "admin",
      "x-session-id": "spoofed",
      "x-app-type": "control_panel",
      "x-session-assertion": "forged",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-origin")).toBe("echo");
    const [seen, ...more] = originSaw(`${path}?page=2`);
    expect(more).toHaveLength(0);
    expect(seen?.headers).toMatchObject({
      "x-session-id": s.id,
      "remote-user": s.userId,
      "x-tenant-id": s.tenantId,
      "x-app-type": "tenant_app",
    });
    // Under the configured name only: nothing arrives as the default X-User-Id.
    expect(seen?.headers["x-user-id"]).toBeUndefined();
    const { payload } = await verifyAssertion(seen?.headers["x-session-assertion"]);
    expect(payload).toMatchObject({ sub: s.userId, sid: s.id, tenant_id: Number(s.tenantId), app_type: "tenant_app" });
  });

  it("sends a session without a tenant through without a tenant id", async () => {
    const s = await createSession();
    const path = uniquePath("/app/");
    const res = await send(path, { authorization: `Bearer ${s.token}`, "remote-user": "admin" });
    expect(res.status).toBe(200);
    const headers = originSaw(path)[0]?.headers ?? {};
    expect(headers["remote-user"]).toBe(s.userId);
    expect(headers["x-app-type"]).toBe("control_panel");
    // nginx drops a header set to an empty value; Caddy copies the empty one.
    expect(headers["x-tenant-id"] ?? "").toBe("");
  });

  it.each([
    ["no token", {}, 'Bearer realm="session-gate"'],
    [
      "an unknown token",
      { authorization: `Bearer ${"x".repeat(43)}` },
      'Bearer realm="session-gate", error="invalid_token"',
    ],
    ["a malformed header", { authorization: "Bearer a b" }, 'Bearer realm="session-gate", error="invalid_request"'],
  ])(
    "answers %s with 401 and the Bearer challenge, and the origin never sees it",
    async (_name, headers, challenge) => {
      const path = uniquePath("/app/");
      const res = await send(path, { ...headers, "remote-user": "admin" });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe(challenge);
      expect(originSaw(path)).toHaveLength(0);
    },
  );

  it("takes the session from the cookie when there is no Authorization header", async () => {
    const s = await createSession();
    const path = uniquePath("/app/");
    const res = await send(path, { cookie: `theme=dark; ${stack.browser.cookieName}=${s.token}` });
    expect(res.status).toBe(200);
    expect(originSaw(path)[0]?.headers["remote-user"]).toBe(s.userId);
  });

  it("sends a browser navigation without a session to the login page, with rd the page it asked for", async () => {
    const path = uniquePath("/app/");
    const res = await navigate(`${base}${path}?tab=2`);
    // nginx: session-gate's 401 + X-Login-Location turned into a 302 by @login; Caddy: its 302.
    expect(res.status).toBe(302);
    expect(res.headers["cache-control"]).toBe("no-store");
    const location = new URL(res.headers.location ?? "");
    expect(location.origin + location.pathname).toBe(stack.browser.loginUrl);
    expect(location.searchParams.get("rd")).toBe(`${base}${path}?tab=2`);
    expect(originSaw(`${path}?tab=2`)).toHaveLength(0);
  });

  it("lets /login through unchecked, without the client's identity headers", async () => {
    const path = `/login?probe=${randomUUID()}`;
    const res = await send(path, spoofedIdentity);
    expect(res.status).toBe(200);
    const seen = originSaw(path)[0]?.headers ?? {};
    for (const name of IDENTITY_HEADERS) expect(seen[name], name).toBeUndefined();
  });

  it("routes POST /v1/logout to session-gate: the same origin ends the session, another site cannot", async () => {
    const s = await createSession();
    const cookie = `${stack.browser.cookieName}=${s.token}`;
    const crossSite = await send("/v1/logout", { cookie, "sec-fetch-site": "cross-site" }, "POST");
    expect(crossSite.status).toBe(403);
    expect(((await crossSite.json()) as { error: string }).error).toBe("cross_site_request");
    expect((await send(uniquePath("/app/"), { cookie })).status).toBe(200);
    // No Sec-Fetch-Site: the Origin is compared with the X-Forwarded-Proto and -Host the proxy sets.
    const sameOrigin = await send("/v1/logout", { cookie, origin: base }, "POST");
    expect(sameOrigin.status).toBe(204);
    expect((await send(uniquePath("/app/"), { cookie })).status).toBe(401);
  });

  it("answers an expired session with 401 invalid_token", async () => {
    const s = await createSession({ absoluteInSeconds: -60 });
    const path = uniquePath("/app/");
    const res = await send(path, { authorization: `Bearer ${s.token}`, "remote-user": String(s.userId) });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="invalid_token"');
    expect(originSaw(path)).toHaveLength(0);
  });

  it("answers 403 insufficient_scope when /tenant/ gets a control_panel session", async () => {
    const s = await createSession({ appType: "control_panel", withTenant: true });
    const path = uniquePath("/tenant/");
    const res = await send(path, { authorization: `Bearer ${s.token}` });
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="insufficient_scope"');
    expect(originSaw(path)).toHaveLength(0);
  });

  it("lets a tenant_app session into /tenant/", async () => {
    const s = await createSession({ appType: "tenant_app", withTenant: true });
    const path = uniquePath("/tenant/");
    const res = await send(path, { authorization: `Bearer ${s.token}` });
    expect(res.status).toBe(200);
    expect(originSaw(path)[0]?.headers["x-app-type"]).toBe("tenant_app");
  });
});

// Last: it stops the database for good.
describe("with the database down", () => {
  it("nginx and Caddy deny a session that was valid a moment ago, and the origin never sees it", async () => {
    const s = await createSession({ appType: "tenant_app", withTenant: true });
    const send = (port: number, path: string) =>
      fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${s.token}` } });
    for (const [, port] of PROXIES) expect((await send(port, uniquePath("/app/"))).status).toBe(200);

    await stack.stopDatabase();
    // session-gate answers 503 with Retry-After. Caddy passes that on as it is; nginx auth_request
    // turns any answer but 2xx, 401 and 403 into its own 500. Denied either way.
    const nginxPath = uniquePath("/app/");
    const viaNginx = await send(PORTS.nginx, nginxPath);
    expect(viaNginx.status).toBe(500);
    const caddyPath = uniquePath("/app/");
    const viaCaddy = await send(PORTS.caddy, caddyPath);
    expect(viaCaddy.status).toBe(503);
    expect(viaCaddy.headers.get("retry-after")).toBe("5");
    expect(originSaw(nginxPath)).toHaveLength(0);
    expect(originSaw(caddyPath)).toHaveLength(0);
  });
});
