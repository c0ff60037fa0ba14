import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { countedDatabase, createTenant, insertSession, newToken } from "../helpers/db";
import { type Echoed, gateway } from "../helpers/gateway";
import { callWorker } from "../helpers/worker";

/*
 * Browser apps: the session in a cookie, browsers sent to the login page, identity headers under
 * the names the app expects, and a signed assertion of the identity the origin verifies offline.
 */

const COOKIE = "sg_session";
const cookieVars = { SESSION_COOKIE_NAME: COOKIE };
const LOGIN = "https://login.example/signin?app=shop";
const loginVars = { ...cookieVars, LOGIN_URL: LOGIN, REDIRECT_ALLOWED_HOSTS: "app.example, app.example:8443" };
const navigation = { "sec-fetch-mode": "navigate", "sec-fetch-site": "none", accept: "text/html" };

describe("the session cookie", () => {
  it("is read only when SESSION_COOKIE_NAME is set", async () => {
    const s = await insertSession();
    const headers = { cookie: `${COOKIE}=${s.token}` };
    expect((await callWorker("/v1/validate", { headers })).status).toBe(401);
    const res = await callWorker("/v1/validate", { headers }, cookieVars);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-session-id")).toBe(s.id);
  });

  it("is the same check: one statement, and an expired session refused and ended", async () => {
    const s = await insertSession({ absoluteInSeconds: -5 });
    const counted = countedDatabase();
    const res = await callWorker(
      "/v1/validate",
      { headers: { cookie: `theme=dark; ${COOKIE}="${s.token}"; lang=en` } },
      { ...cookieVars, DATABASE_URL: counted.databaseUrl },
    );
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="invalid_token"');
    expect(await counted.requests()).toBe(1);
  });

  it("never stands in for a malformed Authorization header", async () => {
    const s = await insertSession();
    const res = await callWorker(
      "/v1/validate",
      { headers: { authorization: "Bearer not a token", cookie: `${COOKIE}=${s.token}` } },
      cookieVars,
    );
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="invalid_request"');
  });

  it("comes second to a valid Authorization header: the header's session is the one checked", async () => {
    const [a, b] = [await insertSession(), await insertSession()];
    const res = await callWorker(
      "/v1/validate",
      { headers: { authorization: `Bearer ${a.token}`, cookie: `${COOKIE}=${b.token}` } },
      cookieVars,
    );
    expect(res.headers.get("x-session-id")).toBe(a.id);
  });

  it.each([
    ["two cookies of that name (cookie tossing)", (t: string) => `${COOKIE}=${t}; ${COOKIE}=${t}`],
    ["a value that is not a token", () => `${COOKIE}=not a token!`],
    ["a Cookie header over 8 KiB", (t: string) => `pad=${"x".repeat(8200)}; ${COOKIE}=${t}`],
  ])("refuses %s with invalid_request, before any query", async (_name, cookie) => {
    const s = await insertSession();
    const counted = countedDatabase();
    const res = await callWorker(
      "/v1/validate",
      { headers: { cookie: cookie(s.token) } },
      { ...cookieVars, DATABASE_URL: counted.databaseUrl },
    );
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_request");
    expect(await counted.requests()).toBe(0);
  });
});

describe("state changes authenticated by cookie", () => {
  it.each([
    ["a page of another site", { "sec-fetch-site": "cross-site" }, 403],
    ["a sibling subdomain (same-site, not same-origin)", { "sec-fetch-site": "same-site" }, 403],
    ["no Sec-Fetch-Site and another Origin", { origin: "https://evil.example" }, 403],
    ["neither header", {}, 403],
    ["the same origin", { "sec-fetch-site": "same-origin" }, 204],
    ["no Sec-Fetch-Site and its own Origin", { origin: "http://gate.test" }, 204],
  ])("POST /v1/logout from %s: %i", async (_name, headers, status) => {
    const s = await insertSession();
    const res = await callWorker(
      "/v1/logout",
      { method: "POST", headers: { ...headers, cookie: `${COOKIE}=${s.token}` } },
      cookieVars,
    );
    expect(res.status).toBe(status);
    if (status === 403) {
      expect(((await res.json()) as { error: string }).error).toBe("cross_site_request");
      expect(
        (await callWorker("/v1/validate", { headers: { cookie: `${COOKIE}=${s.token}` } }, cookieVars)).status,
      ).toBe(200);
    }
  });

  it("POST /v1/sessions/revoke-others from another site is refused; a bearer token needs no same-origin proof", async () => {
    const s = await insertSession();
    const crossSite = { "sec-fetch-site": "cross-site" };
    const byCookie = await callWorker(
      "/v1/sessions/revoke-others",
      { method: "POST", headers: { ...crossSite, cookie: `${COOKIE}=${s.token}` } },
      cookieVars,
    );
    expect(byCookie.status).toBe(403);
    const byBearer = await callWorker(
      "/v1/sessions/revoke-others",
      { method: "POST", headers: { ...crossSite, authorization: `Bearer ${s.token}` } },
      cookieVars,
    );
    expect(byBearer.status).toBe(200);
  });
});

describe("browsers go to the login page, APIs get 401", () => {
  it.each([
    ["no session", () => ({})],
    ["an unknown token", () => ({ cookie: `${COOKIE}=${newToken()}` })],
  ])("a navigation with %s is sent to LOGIN_URL with rd", async (_name, credentials) => {
    const res = await callWorker(
      "/v1/validate",
      {
        headers: {
          ...navigation,
          ...credentials(),
          "x-forwarded-proto": "https",
          "x-forwarded-host": "app.example",
          "x-forwarded-uri": "/orders?page=2",
        },
      },
      loginVars,
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location") ?? "");
    expect(location.origin + location.pathname).toBe("https://login.example/signin");
    expect(location.searchParams.get("app")).toBe("shop");
    expect(location.searchParams.get("rd")).toBe("https://app.example/orders?page=2");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("an expired session ends and redirects; nginx's X-Original-URL names the page", async () => {
    const s = await insertSession({ absoluteInSeconds: -5 });
    const res = await callWorker(
      "/v1/validate",
      {
        headers: { ...navigation, cookie: `${COOKIE}=${s.token}`, "x-original-url": "https://app.example:8443/a" },
      },
      loginVars,
    );
    expect(res.status).toBe(302);
    expect(new URL(res.headers.get("location") ?? "").searchParams.get("rd")).toBe("https://app.example:8443/a");
  });

  it.each([
    ["fetch() from a page", { "sec-fetch-mode": "cors", accept: "application/json" }],
    ["an XHR without Sec-Fetch-Mode", { accept: "text/html", "x-requested-with": "XMLHttpRequest" }],
    ["an API client", { accept: "application/json" }],
    ["no Accept at all", {}],
  ])("%s keeps the 401 and its challenge", async (_name, headers) => {
    const res = await callWorker("/v1/validate", { headers }, loginVars);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate"');
    expect(res.headers.get("location")).toBeNull();
  });

  it("a navigation without Sec-Fetch-Mode that prefers HTML is one", async () => {
    const res = await callWorker(
      "/v1/validate",
      { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } },
      loginVars,
    );
    expect(res.status).toBe(302);
  });

  it("403 scoping answers and a malformed Authorization header are never redirects", async () => {
    const s = await insertSession({ appType: "control_panel" });
    const scoped = await callWorker(
      "/v1/validate?app_type=tenant_app",
      { headers: { ...navigation, cookie: `${COOKIE}=${s.token}` } },
      loginVars,
    );
    expect(scoped.status).toBe(403);
    const malformed = await callWorker(
      "/v1/validate",
      { headers: { ...navigation, authorization: "Bearer a b" } },
      loginVars,
    );
    expect(malformed.status).toBe(401);
  });

  it.each([
    ["a host not allowed", { "x-original-url": "https://evil.example/steal" }],
    [
      "a spoofed forwarded host",
      { "x-forwarded-proto": "https", "x-forwarded-host": "evil.example", "x-forwarded-uri": "/" },
    ],
    ["credentials in the URL", { "x-original-url": "https://user:pw@app.example/" }],
    ["another scheme", { "x-original-url": "javascript://app.example/%0aalert(1)" }],
    [
      "a protocol-relative forwarded URI",
      { "x-forwarded-proto": "https", "x-forwarded-host": "app.example", "x-forwarded-uri": "//evil.example/" },
    ],
    ["nothing that says", {}],
  ])("leaves rd out for %s: the redirect goes to LOGIN_URL only", async (_name, headers) => {
    const res = await callWorker("/v1/validate", { headers: { ...navigation, ...headers } }, loginVars);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location") ?? "");
    expect(location.searchParams.has("rd")).toBe(false);
    expect(location.host).toBe("login.example");
  });

  it("?login_redirect=header answers the 401 with X-Login-Location, for nginx", async () => {
    const res = await callWorker(
      "/v1/validate?login_redirect=header",
      { headers: { ...navigation, "x-original-url": "https://app.example/x" } },
      loginVars,
    );
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate"');
    expect(new URL(res.headers.get("x-login-location") ?? "").searchParams.get("rd")).toBe("https://app.example/x");
  });

  it("gateway mode redirects with the request's own URL", async () => {
    const res = await callWorker(
      "/shop/cart?x=1",
      { headers: navigation },
      { ...gateway, ...loginVars, REDIRECT_ALLOWED_HOSTS: "gate.test" },
    );
    expect(res.status).toBe(302);
    expect(new URL(res.headers.get("location") ?? "").searchParams.get("rd")).toBe("http://gate.test/shop/cart?x=1");
  });
});

describe("identity header names", () => {
  it("answers and forwards under the configured names, and strips client copies of them", async () => {
    const tenantId = await createTenant();
    const s = await insertSession({ tenantId });
    const names = {
      USER_ID_HEADER: "Remote-User",
      SESSION_ID_HEADER: "Remote-Session",
      TENANT_ID_HEADER: "Remote-Tenant",
      APP_TYPE_HEADER: "Remote-App",
    };
    const validated = await callWorker("/v1/validate", { headers: { authorization: `Bearer ${s.token}` } }, names);
    expect(validated.headers.get("remote-user")).toBe(String(s.userId));
    expect(validated.headers.get("remote-tenant")).toBe(String(tenantId));
    expect(validated.headers.get("x-user-id")).toBeNull();
    const forwarded = await callWorker(
      "/app",
      { headers: { authorization: `Bearer ${s.token}`, "remote-user": "admin", "Remote-App": "spoofed" } },
      { ...gateway, ...names },
    );
    const echoed = (await forwarded.json()) as Echoed;
    expect(echoed.headers["remote-user"]).toBe(String(s.userId));
    expect(echoed.headers["remote-app"]).toBe("control_panel");
    expect(echoed.headers["remote-session"]).toBe(s.id);
  });

  it("forwards the session cookie only with FORWARD_AUTHORIZATION, and the app's own cookies always", async () => {
    const s = await insertSession();
    const cookie = `theme=dark; ${COOKIE}=${s.token}; lang=en`;
    const stripped = (await (
      await callWorker("/app", { headers: { cookie } }, { ...gateway, ...cookieVars })
    ).json()) as Echoed;
    expect(stripped.headers.cookie).toBe("theme=dark; lang=en");
    const kept = (await (
      await callWorker("/app", { headers: { cookie } }, { ...gateway, ...cookieVars, FORWARD_AUTHORIZATION: "true" })
    ).json()) as Echoed;
    expect(kept.headers.cookie).toBe(cookie);
  });
});

describe("the signed identity assertion", () => {
  let keys: { ASSERTION_SIGNING_KEY: string; ASSERTION_AUDIENCE: string; publicJwk: Record<string, unknown> };
  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    keys = {
      ASSERTION_SIGNING_KEY: JSON.stringify({ ...(await exportJWK(privateKey)), kid: "test-1" }),
      ASSERTION_AUDIENCE: "https://app.example",
      publicJwk: { ...(await exportJWK(publicKey)), kid: "test-1" },
    };
  });

  it("comes with every 200 of /v1/validate and verifies against /.well-known/jwks.json", async () => {
    const tenantId = await createTenant();
    const s = await insertSession({ tenantId, appType: "tenant_app" });
    const vars = { ASSERTION_SIGNING_KEY: keys.ASSERTION_SIGNING_KEY, ASSERTION_AUDIENCE: keys.ASSERTION_AUDIENCE };
    const res = await callWorker("/v1/validate", { headers: { authorization: `Bearer ${s.token}` } }, vars);
    const jwt = res.headers.get("x-session-assertion") ?? "";
    const jwksRes = await callWorker("/.well-known/jwks.json", {}, vars);
    expect(jwksRes.headers.get("cache-control")).toBe("public, max-age=300");
    const jwks = (await jwksRes.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toEqual([
      expect.objectContaining({ kid: "test-1", kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" }),
    ]);
    expect(JSON.stringify(jwks)).not.toContain('"d"');
    const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(jwks as never), {
      issuer: "session-gate",
      audience: "https://app.example",
    });
    expect(protectedHeader).toMatchObject({ alg: "EdDSA", kid: "test-1" });
    expect(payload).toMatchObject({ sub: String(s.userId), sid: s.id, tenant_id: tenantId, app_type: "tenant_app" });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBeLessThanOrEqual(60);
    // A refused check carries none.
    const refused = await callWorker("/v1/validate", { headers: { authorization: `Bearer ${newToken()}` } }, vars);
    expect(refused.headers.get("x-session-assertion")).toBeNull();
  });

  it("comes with every forwarded gateway request; a client's copy never does", async () => {
    const s = await insertSession();
    const vars = {
      ...gateway,
      ASSERTION_SIGNING_KEY: keys.ASSERTION_SIGNING_KEY,
      ASSERTION_AUDIENCE: keys.ASSERTION_AUDIENCE,
    };
    const res = await callWorker(
      "/app",
      { headers: { authorization: `Bearer ${s.token}`, "x-session-assertion": "forged" } },
      vars,
    );
    const echoed = (await res.json()) as Echoed;
    const { payload } = await jwtVerify(
      echoed.headers["x-session-assertion"] ?? "",
      createLocalJWKSet({ keys: [keys.publicJwk] } as never),
      {
        audience: "https://app.example",
      },
    );
    expect(payload.sid).toBe(s.id);
  });

  it("publishes the previous key during a rotation; without a key the JWKS is 404", async () => {
    const { publicKey } = await generateKeyPair("ES256", { extractable: true });
    const previous = JSON.stringify({ ...(await exportJWK(publicKey)), kid: "old" });
    const jwks = await callWorker(
      "/.well-known/jwks.json",
      {},
      {
        ASSERTION_SIGNING_KEY: keys.ASSERTION_SIGNING_KEY,
        ASSERTION_AUDIENCE: "x",
        ASSERTION_PREVIOUS_KEY: previous,
      },
    );
    expect(((await jwks.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual(["test-1", "old"]);
    expect((await callWorker("/.well-known/jwks.json")).status).toBe(404);
  });

  it("is refused at configuration time without an audience, or with a public key to sign with", async () => {
    expect((await callWorker("/healthz", {}, { ASSERTION_SIGNING_KEY: keys.ASSERTION_SIGNING_KEY })).status).toBe(503);
    const publicOnly = JSON.stringify(keys.publicJwk);
    expect(
      (await callWorker("/healthz", {}, { ASSERTION_SIGNING_KEY: publicOnly, ASSERTION_AUDIENCE: "x" })).status,
    ).toBe(503);
  });
});
