import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { insertSession, type TestSession } from "../../helpers/db";
import { type Echoed, expectIdentity, ORIGIN, SIGNING_KEY } from "../../helpers/gateway";
import { callWorker } from "../../helpers/worker";

/*
 * Where can a path make gateway mode send a request? The property: with a valid token, whatever
 * the path, the request that reaches anything reaches the origin's host, under ORIGIN_URL's base
 * path, at the path the documented joining rule gives, or the client gets a 4xx; and nothing ever
 * reaches the second server listening on loopback, the attacker's.
 */

const FUZZ_RUNS = Number(env.FUZZ_RUNS);
const FUZZ_TIMEOUT_MS = 30_000 + FUZZ_RUNS * 150;
const ATTACKER = `127.0.0.1:${env.TEST_ATTACKER_PORT}`;

async function seen(port: string, probe: string): Promise<{ count: number; total: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/__echo/seen?probe=${probe}`);
  return (await res.json()) as { count: number; total: number };
}

/** Segments an attacker would try, next to ordinary ones. */
const segment = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom("", ".", "..", "%2e", "%2E%2e", ".%2e", "%2F", "%2f", "%5C", "%5c", "\\", "%00"),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "@",
      ":",
      "@attacker.example",
      ATTACKER,
      `${ATTACKER}:`,
      "attacker.example",
      "user:pw@x",
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom("orders", "a b", "é", "日本", "%41", "%E2%82%AC", "x;y=1", "~user", "a%2Fb"),
  },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(..."ab/\\.%:@2eEfF5cC"), maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom("a".repeat(2000), "../".repeat(50)) },
);
const path = fc
  .tuple(fc.array(segment, { minLength: 1, maxLength: 6 }), fc.constantFrom("", "?page=2", "?next=//evil", "?a=%2F"))
  .map(([segments, query]) => `/${segments.join("/")}${query}`);
const basePath = fc.constantFrom("", "/", "/base", "/base/", "/a/b/");

describe("fuzz: gateway paths", () => {
  let session: TestSession;
  beforeAll(async () => {
    session = await insertSession();
  });

  it(
    "forwards only to the origin's host, under its base path, at the joined path; else 4xx; never to another server",
    async () => {
      await fc.assert(
        fc.asyncProperty(path, basePath, async (requestPath, base) => {
          const probe = crypto.randomUUID();
          let res: Response;
          try {
            res = await callWorker(
              requestPath,
              { headers: { authorization: `Bearer ${session.token}`, "x-probe": probe } },
              { ORIGIN_URL: `${ORIGIN}${base}`, GATEWAY_SIGNING_KEY: SIGNING_KEY },
            );
          } catch {
            // A path the runtime itself cannot turn into a request never reaches the Worker.
            return;
          }
          expect((await seen(env.TEST_ATTACKER_PORT, probe)).total).toBe(0);
          if (res.status !== 200) {
            expect(res.status).toBeGreaterThanOrEqual(400);
            expect(res.status).toBeLessThan(500);
            expect((await seen(env.TEST_ORIGIN_PORT, probe)).count).toBe(0);
            return;
          }
          expect(res.headers.get("x-origin")).toBe("echo");
          const echoed = (await res.json()) as Echoed;
          expect(echoed.headers.host).toBe(`127.0.0.1:${env.TEST_ORIGIN_PORT}`);
          const prefix = base.replace(/\/$/, "");
          // The joining rule: ORIGIN_URL's path without its trailing slash, then the request's
          // path as the runtime parsed it, then its query.
          const parsed = new URL(`http://gate.test${requestPath}`);
          expect(echoed.url).toBe(`${prefix}${parsed.pathname}${parsed.search}`);
          expect(echoed.url.startsWith(`${prefix}/`)).toBe(true);
          expect(parsed.pathname).not.toMatch(/\/\/|\\|%2f|%5c|%00/i);
          expectIdentity(echoed, session);
        }),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
