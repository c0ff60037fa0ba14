import fc from "fast-check";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { authorizationValue, headerValue, mutatedToken } from "../../fuzz/arbitraries";
import {
  ADMIN_KEY,
  countRequests,
  expectErrorShape,
  FUZZ_RUNS,
  FUZZ_TIMEOUT_MS,
  meaningOfAuthorization,
} from "../../fuzz/oracle";
import { countedDatabase, createTenant, createUser, insertSession, type TestSession } from "../../helpers/db";
import { type Echoed, expectIdentity, gateway, originSaw } from "../../helpers/gateway";
import { callWorker } from "../../helpers/worker";

/*
 * The Authorization header, on every endpoint that reads a bearer token. Properties, for any value:
 * - never a 5xx;
 * - 200 only for a token that was issued and is still valid, with that session's identity;
 * - a value that is not a well-formed bearer credential never costs a database request;
 * - every 4xx has the documented error shape and RFC 6750 challenge.
 */

interface Pool {
  live: Map<string, TestSession>;
  all: string[];
}

let pool: Pool;

beforeAll(async () => {
  const tenantId = await createTenant();
  // Each live session is its user's only one, so revoke-others with it ends nothing.
  const live = await Promise.all([
    insertSession({ tenantId, appType: "tenant_app" }),
    insertSession(),
    // Not a truncation or one edit away from another file's live token (validate.test.ts has
    // "legacy.Token_with~all+b64/chars=="): the database is shared, and the oracle knows only this pool.
    insertSession({ token: "fuzz-legacy.Token_with~all+b64/chars==" }),
  ]);
  const ended = await Promise.all([
    insertSession({ isActive: false, endedAgoSeconds: 30, revokeReason: "logout" }),
    insertSession({ isActive: false, endedAgoSeconds: 30, revokeReason: "admin_revoke" }),
    insertSession({ absoluteInSeconds: -60 }),
    insertSession({ idleSeconds: 2 * 3600 }),
    // Half-revoked by another writer: still flagged active, but not valid.
    insertSession({ endedAgoSeconds: 5, revokeReason: "logout" }),
  ]);
  pool = {
    live: new Map(live.map((s) => [s.token, s])),
    all: [...live, ...ended].map((s) => s.token),
  };
});

beforeEach(() => {
  // One line per check would be thousands of lines; the properties assert what matters.
  vi.spyOn(console, "log").mockImplementation(() => {});
  return () => vi.restoreAllMocks();
});

function withAuthorization(value: string | undefined, init: RequestInit = {}): RequestInit {
  const headers = new Headers(init.headers);
  if (value !== undefined) headers.set("authorization", value);
  return { ...init, headers };
}

/** Checks one answer of a bearer endpoint against the oracle; returns the requests it should cost. */
async function expectBearerAnswer(
  res: Response,
  value: string | undefined,
  okStatus: number,
): Promise<{ expectedRequests: number | null }> {
  expect(res.status).toBeLessThan(500);
  const meaning = meaningOfAuthorization(value);
  const session = meaning.kind === "token" ? pool.live.get(meaning.token) : undefined;
  if (session !== undefined) {
    expect(res.status).toBe(okStatus);
    return { expectedRequests: null };
  }
  expect(res.status).toBe(401);
  const body = await expectErrorShape(res);
  const expectedError = { missing: "unauthorized", malformed: "invalid_request", token: "invalid_token" }[meaning.kind];
  expect(body.error).toBe(expectedError);
  return { expectedRequests: meaning.kind === "token" ? 1 : 0 };
}

describe("fuzz: the Authorization header", () => {
  it(
    "GET /v1/validate: 200 only for a live token, else the right 401; garbage never reaches the database",
    async () => {
      const counted = countedDatabase();
      await fc.assert(
        fc.asyncProperty(fc.option(authorizationValue(pool.all), { freq: 20 }), async (header) => {
          const value = header ?? undefined;
          const { result: res, requests } = await countRequests(counted.requests, () =>
            callWorker("/v1/validate", withAuthorization(value), { DATABASE_URL: counted.databaseUrl }),
          );
          const { expectedRequests } = await expectBearerAnswer(res, value, 200);
          if (expectedRequests === null) {
            const meaning = meaningOfAuthorization(value);
            const session = meaning.kind === "token" ? pool.live.get(meaning.token) : undefined;
            expect(res.headers.get("x-session-id")).toBe(session?.id);
            expect(res.headers.get("x-user-id")).toBe(String(session?.userId));
            expect(requests).toBe(1);
          } else {
            expect(res.headers.get("x-user-id")).toBeNull();
            expect(requests).toBe(expectedRequests);
          }
        }),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it.each([
    ["GET", "/v1/sessions/current", 200],
    ["POST", "/v1/sessions/revoke-others", 200],
    ["POST", "/v1/logout", 204],
  ] as const)(
    "%s %s answers bearer failures exactly as /v1/validate does",
    async (method, path, okStatus) => {
      const counted = countedDatabase();
      // Logout would end the live sessions the other properties rely on: it gets everything else.
      const tokens = okStatus === 204 ? pool.all.filter((t) => !pool.live.has(t)) : pool.all;
      const value = authorizationValue(tokens).filter(
        (v) => okStatus !== 204 || !pool.live.has((meaningOfAuthorization(v) as { token?: string }).token ?? ""),
      );
      await fc.assert(
        fc.asyncProperty(fc.option(value, { freq: 20 }), async (header) => {
          const { result: res, requests } = await countRequests(counted.requests, () =>
            callWorker(path, withAuthorization(header ?? undefined, { method }), { DATABASE_URL: counted.databaseUrl }),
          );
          const { expectedRequests } = await expectBearerAnswer(res, header ?? undefined, okStatus);
          if (expectedRequests !== null) expect(requests).toBe(expectedRequests);
        }),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "gateway mode: forwards only a live token's request, with our identity headers and none of the client's",
    async () => {
      const identity = [
        "x-session-id",
        "x-user-id",
        "x-tenant-id",
        "x-app-type",
        "x-session-signature",
        "content-digest",
      ];
      // Spoofed values carry a prefix no session value has, so a forwarded copy can never pass as ours.
      const spoofed = fc.dictionary(
        fc.oneof(fc.constantFrom(...identity), fc.mixedCase(fc.constantFrom(...identity))),
        headerValue(20).map((v) => `spoofed-${v}`),
        { maxKeys: 6 },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.option(authorizationValue(pool.all), { freq: 20 }),
          spoofed,
          fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"),
          async (header, extra, method) => {
            const headers = new Headers();
            for (const [name, v] of Object.entries(extra)) headers.set(name, v);
            if (header !== null) headers.set("authorization", header);
            const path = `/app/fuzz-${crypto.randomUUID()}`;
            const res = await callWorker(path, { method, headers }, gateway);
            const meaning = meaningOfAuthorization(header ?? undefined);
            const session = meaning.kind === "token" ? pool.live.get(meaning.token) : undefined;
            expect(res.status).toBeLessThan(500);
            if (session === undefined) {
              expect(res.status).toBe(401);
              await expectErrorShape(res);
              expect(await originSaw(path)).toBe(0);
              return;
            }
            expect(res.status).toBe(200);
            const echoed = (await res.json()) as Echoed;
            // All four identity headers are the session's, and the signature verifies over them.
            expectIdentity(echoed, session);
            expect(Object.values(echoed.headers).some((v) => String(v).includes("spoofed-"))).toBe(false);
            expect(echoed.headers.authorization).toBeUndefined();
          },
        ),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "admin endpoints: only the exact admin key opens them, and no guess costs a database request",
    async () => {
      const counted = countedDatabase();
      const userId = await createUser();
      const guess = fc.oneof(
        { weight: 3, arbitrary: authorizationValue([ADMIN_KEY]) },
        { weight: 2, arbitrary: mutatedToken([ADMIN_KEY]).map((k) => `Bearer ${k}`) },
        { weight: 1, arbitrary: fc.constantFrom(`Bearer ${ADMIN_KEY}`, `bearer  ${ADMIN_KEY}`, `Basic ${ADMIN_KEY}`) },
        { weight: 1, arbitrary: fc.constant(`Bearer ${pool.all[0]}`) },
      );
      await fc.assert(
        fc.asyncProperty(fc.option(guess, { freq: 20 }), async (header) => {
          const { result: res, requests } = await countRequests(counted.requests, () =>
            callWorker(`/v1/users/${userId}/sessions`, withAuthorization(header ?? undefined), {
              DATABASE_URL: counted.databaseUrl,
            }),
          );
          const meaning = meaningOfAuthorization(header ?? undefined);
          if (meaning.kind === "token" && meaning.token === ADMIN_KEY) {
            expect(res.status).toBe(200);
            expect(requests).toBe(1);
            return;
          }
          expect(res.status).toBe(401);
          const body = await expectErrorShape(res);
          expect(body.error).toBe(meaning.kind === "missing" ? "unauthorized" : "invalid_token");
          expect(requests).toBe(0);
        }),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
