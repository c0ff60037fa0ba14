import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBrowserApp } from "../../examples/browser-app/src/app";
import { readConfig } from "../../examples/browser-app/src/config";
import type { LoginUser } from "../../examples/browser-app/src/users";
import { type Origin, startOrigin } from "./echo-origin";
import { PORTS } from "./ports";
import { type Stack, startStack } from "./stack";

/*
 * A browser app behind forward auth, end to end: a real headless Chromium, nginx and Caddy running
 * docs/proxies/ unchanged, the Worker under `wrangler dev`, and examples/browser-app as the origin
 * on 9000 (in this process, so that every request that reaches it is recorded). The browser gets
 * the session as a cookie from the app's login page and comes back where it started; the page
 * shows who it is from the verified assertion alone. Screenshots of every step go to
 * test/e2e/screenshots/ (git-ignored).
 */

/** Debian's `chromium` package (.ci/run installs it); CHROMIUM_PATH for a browser elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = fileURLToPath(new URL("screenshots/", import.meta.url));
const PASSWORD = "correct horse battery staple";

let stack: Stack;
let origin: Origin;
let browser: Browser;
/** The app's user store for this run: username → the user row created for it. */
const users = new Map<string, LoginUser>();

beforeAll(async () => {
  // playwright-core never downloads a browser: say which one is missing before starting anything.
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH`);
  rmSync(SCREENSHOTS, { recursive: true, force: true });
  mkdirSync(SCREENSHOTS, { recursive: true });
  // Whatever of this started is stopped by afterAll, which vitest runs also when a step here fails.
  stack = await startStack();
  const config = readConfig({
    PORT: String(PORTS.origin),
    SESSION_GATE_URL: stack.browser.sessionGateUrl,
    ADMIN_API_KEY: stack.browser.adminApiKey,
    SESSION_COOKIE_NAME: stack.browser.cookieName,
    APP_ORIGINS: `http://127.0.0.1:${PORTS.nginx},http://127.0.0.1:${PORTS.caddy}`,
    ASSERTION_ISSUER: stack.browser.assertionIssuer,
    ASSERTION_AUDIENCE: stack.browser.assertionAudience,
  });
  const checkPassword = async (username: string, password: string) =>
    password === PASSWORD ? (users.get(username) ?? null) : null;
  origin = await startOrigin(PORTS.origin, createBrowserApp(config, checkPassword));
  browser = await chromium.launch({
    // Debian's Chromium: nothing is downloaded. Each launch gets a fresh temporary profile;
    // playwright adds --headless and, as its chromiumSandbox defaults to false, --no-sandbox (CI
    // runs as root, where Chromium's sandbox refuses to start).
    executablePath: CHROMIUM,
    args: [
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await origin?.close();
  console.log(`browser.test.ts: screenshots of every step in ${SCREENSHOTS}`);
});

/** A user row, and its login name in the app's user store. */
async function createUser(): Promise<{ username: string; userId: number }> {
  const result = await stack.standIn.backend.query("insert into users default values returning id", []);
  const userId = Number(result.rows[0]?.[0]);
  const username = `user-${userId}`;
  users.set(username, { userId });
  return { username, userId };
}

/** A fresh browser profile's worth of state: its own cookie jar. */
async function withContext(test: (context: BrowserContext) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  try {
    await test(context);
  } finally {
    await context.close();
  }
}

const shoot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

/** What reached the origin for `pathAndQuery`. */
const originSaw = (pathAndQuery: string) => origin.received.filter((r) => r.url === pathAndQuery);

function expectLoginPage(page: Page, rd: string | null) {
  const url = new URL(page.url());
  expect(url.origin + url.pathname).toBe(stack.browser.loginUrl);
  expect(url.searchParams.get("rd")).toBe(rd);
}

/** Fills in the login form on the current page and waits for where the app sends the browser. */
async function logIn(page: Page, username: string, expectedUrl: string) {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(expectedUrl);
}

/** The assertion the origin received, verified as the app does (with the published keys). */
async function verifiedAssertion(jwt: string | string[] | undefined) {
  const jwks = createRemoteJWKSet(new URL("/.well-known/jwks.json", stack.browser.sessionGateUrl));
  const { payload } = await jwtVerify(typeof jwt === "string" ? jwt : "", jwks, {
    issuer: stack.browser.assertionIssuer,
    audience: stack.browser.assertionAudience,
  });
  return payload;
}

/** The session's row as the database has it now (the backend answers in text: 't'/'f' for booleans). */
async function sessionRow(id: string) {
  const result = await stack.standIn.backend.query(
    "select case when is_active then 'active' else 'ended' end, revoke_reason from sessions where id = $1",
    [id],
  );
  const [state, revokeReason] = result.rows[0] ?? [];
  return { state, revokeReason };
}

/** An administrator ends the session through the admin API, as a support tool would. */
async function revokeSession(sessionId: string | null) {
  const revoked = await fetch(`${stack.browser.sessionGateUrl}/v1/sessions/${sessionId}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${stack.browser.adminApiKey}` },
  });
  expect(revoked.status).toBe(204);
  expect(await sessionRow(sessionId ?? "")).toEqual({ state: "ended", revokeReason: "admin_revoke" });
}

/** The browser's XMLHttpRequest, as far as the page's script below uses it (no DOM types in this program). */
declare const XMLHttpRequest: new () => {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  addEventListener(type: "loadend", listener: () => void): void;
  send(): void;
  readonly status: number;
  readonly responseURL: string;
  getResponseHeader(name: string): string | null;
};

const PROXIES = [
  ["nginx", PORTS.nginx],
  ["caddy", PORTS.caddy],
] as const;

describe.each(PROXIES)("a browser through %s", (proxy, port) => {
  const base = `http://127.0.0.1:${port}`;
  /** A protected page no other test asks for. */
  const protectedUrl = (name: string) => `${base}/${name}/${randomUUID()}?tab=items`;

  /** Opens `url` without a session, is sent to the login page, logs in and is back on `url`. */
  async function logInVia(page: Page, url: string, username: string, screenshots?: string) {
    const response = await page.goto(url);
    expectLoginPage(page, url);
    // An HTTP redirect from the proxy, not a script: the first answer was a 302.
    const redirect = await response?.request().redirectedFrom()?.response();
    expect(redirect?.status()).toBe(302);
    if (screenshots) await shoot(page, `${screenshots}-1-login-page`);
    await logIn(page, username, url);
    if (screenshots) await shoot(page, `${screenshots}-2-back-on-the-page`);
  }

  it("goes to the login page with rd, logs in, and is back on the page it asked for, showing the verified user", async () => {
    const { username, userId } = await createUser();
    await withContext(async (context) => {
      const page = await context.newPage();
      const url = protectedUrl("orders");
      const { pathname, search } = new URL(url);
      await logInVia(page, url, username, `${proxy}-login`);

      expect(await page.locator("#user-id").textContent()).toBe(String(userId));
      expect(await page.locator("#requested").textContent()).toBe(pathname + search);
      // The session the page shows is the one just issued for this user.
      const listed = await fetch(`${stack.browser.sessionGateUrl}/v1/users/${userId}/sessions?active=true`, {
        headers: { authorization: `Bearer ${stack.browser.adminApiKey}` },
      });
      const { sessions } = (await listed.json()) as { sessions: { id: string }[] };
      expect(sessions).toHaveLength(1);
      expect(await page.locator("#session-id").textContent()).toBe(sessions[0]?.id);
      // The origin saw the page once, after the login, with an assertion of that session.
      const [seen, ...again] = originSaw(pathname + search);
      expect(again).toHaveLength(0);
      expect(await verifiedAssertion(seen?.headers["x-session-assertion"])).toMatchObject({
        sub: String(userId),
        sid: sessions[0]?.id,
      });
      const [cookie, ...others] = await context.cookies(base);
      expect(others).toHaveLength(0);
      expect(cookie).toMatchObject({
        name: stack.browser.cookieName,
        httpOnly: true,
        secure: true,
        sameSite: "Lax",
        path: "/",
        // A browser-session cookie: gone when the browser closes.
        expires: -1,
      });
    });
  });

  it("answers the page's fetch() and XMLHttpRequest with 401, never a redirect, once its session is over", async () => {
    const { username, userId } = await createUser();
    await withContext(async (context) => {
      const page = await context.newPage();
      await logInVia(page, protectedUrl("inbox"), username);
      // What the page's script gets: fetch() and XMLHttpRequest both follow redirects, so a
      // redirect to the login page would show up here as a 200 of the login page's HTML.
      const call = (path: string) =>
        page.evaluate(async (p) => {
          const res = await fetch(p);
          const xhr = new XMLHttpRequest();
          xhr.open("GET", p);
          // As HTML-minded as a script gets: Sec-Fetch-Mode (cors) still says it is not a navigation.
          xhr.setRequestHeader("Accept", "text/html");
          const xhrDone = new Promise<void>((resolve) => xhr.addEventListener("loadend", resolve));
          xhr.send();
          await xhrDone;
          return {
            fetch: { status: res.status, redirected: res.redirected, body: await res.text() },
            xhr: {
              status: xhr.status,
              url: new URL(xhr.responseURL).pathname,
              challenge: xhr.getResponseHeader("www-authenticate"),
            },
          };
        }, path);

      const signedIn = await call("/api/me");
      expect(signedIn.fetch.status).toBe(200);
      expect(JSON.parse(signedIn.fetch.body)).toMatchObject({ userId: String(userId), appType: "control_panel" });
      expect(signedIn.xhr.status).toBe(200);

      await revokeSession(await page.locator("#session-id").textContent());
      const probe = `/api/me?probe=${randomUUID()}`;
      const after = await call(probe);
      expect(after.fetch).toMatchObject({ status: 401, redirected: false });
      expect(JSON.parse(after.fetch.body)).toMatchObject({ error: expect.any(String) });
      expect(after.xhr).toEqual({
        status: 401,
        url: "/api/me",
        challenge: 'Bearer realm="session-gate", error="invalid_token"',
      });
      expect(originSaw(probe)).toHaveLength(0);
      await shoot(page, `${proxy}-xhr-401-page-stays`);
      expect(page.url()).toMatch(/\/inbox\//);
    });
  });

  it("logs out in another tab: the session ends, and the next navigation goes to the login page", async () => {
    const { username } = await createUser();
    await withContext(async (context) => {
      const first = await context.newPage();
      await logInVia(first, protectedUrl("reports"), username);
      const sessionId = (await first.locator("#session-id").textContent()) ?? "";

      const second = await context.newPage();
      await second.goto(`${base}/settings`);
      expect(await second.locator("#session-id").textContent()).toBe(sessionId);
      await shoot(second, `${proxy}-logout-1-other-tab`);
      await second.getByRole("button", { name: "Log out" }).click();
      await second.waitForURL(`${base}/login`);
      await shoot(second, `${proxy}-logout-2-logged-out`);
      expect(await sessionRow(sessionId)).toEqual({ state: "ended", revokeReason: "logout" });

      const next = protectedUrl("reports");
      await first.goto(next);
      expectLoginPage(first, next);
      await shoot(first, `${proxy}-logout-3-first-tab-to-login`);
    });
  });

  it("is sent to the login page at the next navigation once an administrator revokes the session", async () => {
    const { username } = await createUser();
    await withContext(async (context) => {
      const page = await context.newPage();
      await logInVia(page, protectedUrl("dashboard"), username);
      await revokeSession(await page.locator("#session-id").textContent());

      const next = protectedUrl("dashboard");
      await page.goto(next);
      expectLoginPage(page, next);
      await shoot(page, `${proxy}-revoked-to-login`);
    });
  });

  it("never lets a client's Remote-User or assertion reach the origin, on a checked page or on the login page", async () => {
    const { username, userId } = await createUser();
    await withContext(async (context) => {
      const page = await context.newPage();
      await logInVia(page, protectedUrl("start"), username);
      await context.setExtraHTTPHeaders({
        "remote-user": "admin",
        "x-session-id": "spoofed",
        "x-app-type": "tenant_app",
        "x-session-assertion": "forged",
      });
      const url = protectedUrl("account");
      const { pathname, search } = new URL(url);
      await page.goto(url);
      expect(await page.locator("#user-id").textContent()).toBe(String(userId));
      await shoot(page, `${proxy}-spoofed-headers-ignored`);
      const checked = originSaw(pathname + search)[0]?.headers ?? {};
      expect(checked["remote-user"]).toBe(String(userId));
      expect(checked["x-app-type"]).toBe("control_panel");
      expect(await verifiedAssertion(checked["x-session-assertion"])).toMatchObject({ sub: String(userId) });

      const login = `/login?probe=${randomUUID()}`;
      await page.goto(`${base}${login}`);
      const unchecked = originSaw(login)[0]?.headers ?? {};
      for (const name of ["remote-user", "x-session-id", "x-app-type", "x-session-assertion"]) {
        expect(unchecked[name], name).toBeUndefined();
      }
    });
  });

  it("never leads off the app's origins: session-gate leaves out an rd to another host, the login page ignores one", async () => {
    const { username } = await createUser();
    await withContext(async (context) => {
      const page = await context.newPage();
      const hostsAsked = new Set<string>();
      page.on("request", (request) => hostsAsked.add(new URL(request.url()).host));

      // Another Host (not in REDIRECT_ALLOWED_HOSTS): the login page, without rd.
      await page.goto(`http://localhost:${port}/orders`);
      expectLoginPage(page, null);
      await shoot(page, `${proxy}-rd-other-host-left-out`);

      // An rd someone else wrote: after login the app sends the browser to its own "/".
      await page.goto(`${base}/login?rd=${encodeURIComponent("https://evil.example/phish")}`);
      expect(await page.locator("#return-to").textContent()).toBe("/");
      await logIn(page, username, `${base}/`);
      await shoot(page, `${proxy}-rd-foreign-ignored`);
      expect(hostsAsked.has("evil.example")).toBe(false);
    });
  });
});

// Last: it stops the database for good.
describe("with the database down", () => {
  it("a signed-in browser gets nginx's 500 and Caddy's 503, never a redirect to the login page, never the page", async () => {
    const { username } = await createUser();
    await withContext(async (context) => {
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${PORTS.nginx}/login`);
      await logIn(page, username, `http://127.0.0.1:${PORTS.nginx}/`);
      await stack.stopDatabase();

      // session-gate answers 503; nginx's auth_request turns it into its own 500, Caddy passes it on.
      for (const [proxy, port, status] of [
        ["nginx", PORTS.nginx, 500],
        ["caddy", PORTS.caddy, 503],
      ] as const) {
        const url = `http://127.0.0.1:${port}/orders/${randomUUID()}`;
        const response = await page.goto(url);
        expect(response?.status(), proxy).toBe(status);
        expect(response?.request().redirectedFrom(), proxy).toBeNull();
        expect(page.url(), proxy).toBe(url);
        await shoot(page, `${proxy}-database-down`);
        expect(originSaw(new URL(url).pathname), proxy).toHaveLength(0);
      }
    });
  });
});
