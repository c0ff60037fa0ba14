import fc from "fast-check";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { headerValue, mutatedToken } from "../../fuzz/arbitraries";
import { countRequests, expectErrorShape, FUZZ_RUNS, FUZZ_TIMEOUT_MS } from "../../fuzz/oracle";
import { countedDatabase, insertSession, type TestSession } from "../../helpers/db";
import { callWorker } from "../../helpers/worker";

/*
 * The browser's inputs: the Cookie header, and everything that says where to send a browser back
 * after login. Properties:
 * - a session cookie lets a request through only when it is the one cookie of its name, carries a
 *   live token, comes without an Authorization header, and the header is of a size browsers send;
 *   anything malformed costs no database request; never a 5xx;
 * - a redirect always goes to LOGIN_URL itself, and its `rd` (when there is one) names only an
 *   allowed host, over http(s), without credentials: whatever the headers claim, no open redirect.
 */

const COOKIE = "sg_session";
const LOGIN = "https://login.example/signin";
const ALLOWED = ["app.example", "app.example:8443"];
const vars = { SESSION_COOKIE_NAME: COOKIE, LOGIN_URL: LOGIN, REDIRECT_ALLOWED_HOSTS: ALLOWED.join(",") };

let live: TestSession;
let ended: TestSession;

beforeAll(async () => {
  live = await insertSession();
  ended = await insertSession({ absoluteInSeconds: -60 });
});

beforeEach(() => {
  vi.spyOn(console, "log").mockImplementation(() => {});
  return () => vi.restoreAllMocks();
});

describe("fuzz: the Cookie header", () => {
  it(
    "only one well-formed cookie of the name with a live token passes, without an Authorization header",
    async () => {
      const counted = countedDatabase();
      const token = fc.oneof(
        fc.constant(null).map(() => live.token),
        fc.constant(null).map(() => ended.token),
        mutatedToken([live.token]),
        headerValue(30).filter((v) => !v.includes(";")),
      );
      const pair = fc.oneof(
        { weight: 4, arbitrary: token.map((t) => ({ name: COOKIE, value: t })) },
        { weight: 1, arbitrary: token.map((t) => ({ name: COOKIE, value: `"${t}"` })) },
        {
          weight: 2,
          arbitrary: fc
            .constantFrom("theme", "sg_session_old", "SG_SESSION", " sg_session", "sg_sessio")
            .map((name) => ({ name, value: live.token })),
        },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(pair, { maxLength: 4 }),
          fc.option(fc.constantFrom(`Bearer ${live.token}`, "Bearer x y", `Basic ${live.token}`), { freq: 4 }),
          fc.boolean(),
          async (pairs, authorization, oversized) => {
            const cookie = [
              ...pairs.map((p) => `${p.name}=${p.value}`),
              ...(oversized ? [`pad=${"p".repeat(8200)}`] : []),
            ].join("; ");
            const headers: Record<string, string> = {};
            if (cookie !== "") headers.cookie = cookie;
            if (authorization !== null) headers.authorization = authorization;
            const { result: res, requests } = await countRequests(counted.requests, () =>
              callWorker("/v1/validate", { headers }, { ...vars, DATABASE_URL: counted.databaseUrl }),
            );
            expect(res.status).toBeLessThan(500);
            if (authorization !== null) {
              // The header decides alone: the cookie is never read when there is one.
              expect(res.status).toBe(authorization === `Bearer ${live.token}` ? 200 : 401);
              return;
            }
            // The cookie decides: read independently of the code under test.
            // RFC 6265: names compared exactly after the optional whitespace; a value may be quoted.
            const ours = pairs.filter((p) => p.name.trim() === COOKIE);
            const unquoted = ours.map((p) => {
              const value = p.value.trim();
              return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
            });
            const wellFormed = (t: string) => /^[A-Za-z0-9\-._~+/]+=*$/.test(t) && t.length >= 16 && t.length <= 512;
            const usable = !oversized && ours.length === 1 && wellFormed(unquoted[0] ?? "");
            if (!usable) {
              expect(res.status).toBe(401);
              await expectErrorShape(res);
              expect(requests).toBe(0);
              return;
            }
            expect(requests).toBe(1);
            expect(res.status).toBe(unquoted[0] === live.token ? 200 : 401);
            if (res.status === 200) expect(res.headers.get("x-session-id")).toBe(live.id);
          },
        ),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

describe("fuzz: where a browser is sent back to", () => {
  it(
    "the redirect goes to LOGIN_URL, and rd only ever names an allowed host over http(s) without credentials",
    async () => {
      const host = fc.oneof(
        fc.constantFrom(
          ...ALLOWED,
          "APP.EXAMPLE",
          "app.example.evil",
          "evil.example",
          "app.example:80",
          "app.example:8444",
          "127.0.0.1",
          "[::1]:8443",
          "xn--pp-8ka.example",
        ),
        fc.constantFrom(
          "app.example@evil.example",
          "evil.example#@app.example",
          "app.example\\@evil",
          "app.example%2f@evil",
        ),
      );
      const scheme = fc.constantFrom("https", "http", "javascript", "ftp", "HTTPS", "data");
      const path = fc.constantFrom(
        "/",
        "/orders?page=2",
        "//evil.example/",
        "/\\evil",
        "/%2F%2Fevil",
        "/a#frag",
        "?x",
        "",
      );
      const claim = fc.oneof(
        fc.tuple(scheme, host, path).map(([s, h, p]) => ({ "x-original-url": `${s}://${h}${p}` })),
        fc
          .tuple(scheme, host, path)
          .map(([s, h, p]) => ({ "x-forwarded-proto": s, "x-forwarded-host": h, "x-forwarded-uri": p })),
        fc.tuple(host, path).map(([h, p]) => ({ "x-original-url": `//${h}${p}` })),
        headerValue(40).map((v) => ({ "x-original-url": v })),
        fc.constant({}),
      );
      await fc.assert(
        fc.asyncProperty(claim, async (headers) => {
          let res: Response;
          try {
            res = await callWorker(
              "/v1/validate",
              { headers: { "sec-fetch-mode": "navigate", accept: "text/html", ...headers } },
              vars,
            );
          } catch {
            // A value the runtime cannot even put in a header never reaches the Worker.
            return;
          }
          expect(res.status).toBe(302);
          const location = new URL(res.headers.get("location") ?? "");
          expect(`${location.origin}${location.pathname}`).toBe(LOGIN);
          const rd = location.searchParams.get("rd");
          if (rd === null) return;
          const back = new URL(rd);
          expect(["http:", "https:"]).toContain(back.protocol);
          expect(ALLOWED).toContain(back.host);
          expect(back.username).toBe("");
          expect(back.password).toBe("");
        }),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
