import fc from "fast-check";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { base64url, cursorLike, integerLike } from "../../fuzz/arbitraries";
import { adminHeaders, countRequests, expectErrorShape, FUZZ_RUNS, FUZZ_TIMEOUT_MS } from "../../fuzz/oracle";
import { countedDatabase, createTenant, insertSession, type TestSession } from "../../helpers/db";
import { bearer, callWorker } from "../../helpers/worker";

/*
 * Query strings, path parameters and the X-Tenant-Id header. Properties: never a 5xx; a value the
 * documented schema refuses is a 400 in the documented shape that never reaches the database; a
 * valid one gets exactly the answer the session's own app type and tenant call for.
 */

const PG_INT_MAX = 2_147_483_647;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

let session: TestSession;
let tenantId: number;

beforeAll(async () => {
  tenantId = await createTenant();
  session = await insertSession({ tenantId, appType: "tenant_app" });
});

beforeEach(() => {
  vi.spyOn(console, "log").mockImplementation(() => {});
  return () => vi.restoreAllMocks();
});

/** A numeric path or query value is plain digits: no sign, exponent, hex prefix, padding or leading zero. */
const positiveInt = (raw: string, max = PG_INT_MAX) => {
  if (!/^[1-9]\d{0,9}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n <= max ? n : undefined;
};

type Param = [name: string, value: string];

function queryString(params: Param[]): string {
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
}

/** A single value per name, or "repeated" when a name occurs twice (schemas take one value). */
function single(params: Param[], name: string): string | undefined | "repeated" {
  const values = params.filter(([k]) => k === name).map(([, v]) => v);
  if (values.length > 1) return "repeated";
  return values[0];
}

describe("fuzz: query parameters, path parameters and X-Tenant-Id", () => {
  it(
    "GET /v1/validate?app_type&tenant_id with X-Tenant-Id: 400 for a bad requirement, else 200 or 403 as the session says",
    async () => {
      const counted = countedDatabase();
      const tenantValue = fc.oneof(
        fc.constant(null).map(() => String(tenantId)),
        fc.constant(null).map(() => ` ${tenantId}`),
        integerLike,
      );
      const param = fc.oneof(
        fc.tuple(fc.constant("app_type"), fc.constantFrom("tenant_app", "control_panel", "admin", "", "TENANT_APP")),
        fc.tuple(fc.constant("tenant_id"), tenantValue),
        fc.tuple(fc.constantFrom("foo", "token", "access_token"), fc.string({ maxLength: 10 })),
      );
      const header = fc.option(tenantValue, { freq: 2 });
      await fc.assert(
        fc.asyncProperty(fc.array(param, { maxLength: 3 }), header, async (params, tenantHeader) => {
          const headers: Record<string, string> = { authorization: `Bearer ${session.token}` };
          if (tenantHeader !== null) headers["x-tenant-id"] = tenantHeader;
          const { result: res, requests } = await countRequests(counted.requests, () =>
            callWorker(`/v1/validate?${queryString(params)}`, { headers }, { DATABASE_URL: counted.databaseUrl }),
          );
          expect(res.status).toBeLessThan(500);

          const appType = single(params, "app_type");
          const tenantQuery = single(params, "tenant_id");
          const headerValue = tenantHeader?.replace(/^[ \t]+|[ \t]+$/g, "");
          // A parameter the service does not know is refused: a requirement it cannot read is
          // never silently dropped.
          let bad = params.some(([name]) => name !== "app_type" && name !== "tenant_id");
          bad ||= appType === "repeated" || tenantQuery === "repeated";
          bad ||= appType !== undefined && !["tenant_app", "control_panel"].includes(appType);
          let requiredTenant: number | undefined;
          if (tenantQuery !== undefined && tenantQuery !== "repeated") {
            requiredTenant = positiveInt(tenantQuery);
            bad ||= requiredTenant === undefined;
          }
          if (headerValue !== undefined && headerValue !== "") {
            // The header takes digits only: no sign, no exponent, no leading zero.
            const headerOk = /^[1-9]\d{0,9}$/.test(headerValue) && Number(headerValue) <= PG_INT_MAX;
            bad ||= !headerOk;
            // Two requirements that disagree are refused, never one silently winning.
            bad ||= requiredTenant !== undefined && requiredTenant !== Number(headerValue);
            requiredTenant ??= Number(headerValue);
          }
          if (bad) {
            expect(res.status).toBe(400);
            expect((await expectErrorShape(res)).error).toBe("invalid_request");
            expect(requests).toBe(0);
            return;
          }
          expect(requests).toBe(1);
          const allowed =
            (appType === undefined || appType === "tenant_app") &&
            (requiredTenant === undefined || requiredTenant === tenantId);
          if (allowed) {
            expect(res.status).toBe(200);
            expect(res.headers.get("x-session-id")).toBe(session.id);
          } else {
            expect(res.status).toBe(403);
            expect((await expectErrorShape(res)).error).toBe("insufficient_scope");
          }
        }),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "GET /v1/users/:userId/sessions?active&limit&cursor: a bad parameter never reaches the database",
    async () => {
      const counted = countedDatabase();
      const userParam = fc.oneof(
        { weight: 4, arbitrary: fc.constant(null).map(() => String(session.userId)) },
        { weight: 1, arbitrary: integerLike },
      );
      const param = fc.oneof(
        {
          weight: 1,
          arbitrary: fc.tuple(fc.constant("active"), fc.constantFrom("true", "false", "", "yes", "TRUE", "1")),
        },
        { weight: 1, arbitrary: fc.tuple(fc.constant("limit"), integerLike) },
        { weight: 3, arbitrary: fc.tuple(fc.constant("cursor"), cursorLike) },
        { weight: 1, arbitrary: fc.tuple(fc.constantFrom("order", "user_id", "offset"), fc.string({ maxLength: 6 })) },
      );
      await fc.assert(
        fc.asyncProperty(userParam, fc.array(param, { maxLength: 3 }), async (user, params) => {
          const { result: res, requests } = await countRequests(counted.requests, () =>
            callWorker(
              `/v1/users/${encodeURIComponent(user)}/sessions?${queryString(params)}`,
              { headers: adminHeaders },
              { DATABASE_URL: counted.databaseUrl },
            ),
          );
          expect(res.status, `cursor ${params.find(([k]) => k === "cursor")?.[1]}`).toBeLessThan(500);
          const names = params.map(([k]) => k);
          const active = single(params, "active");
          const limit = single(params, "limit");
          const cursor = single(params, "cursor");
          const ok =
            positiveInt(user) !== undefined &&
            names.every((n) => ["active", "limit", "cursor"].includes(n)) &&
            (active === undefined || active === "true" || active === "false") &&
            (limit === undefined || (limit !== "repeated" && (positiveInt(limit) ?? 101) <= 100)) &&
            (cursor === undefined || (cursor !== "repeated" && isIssuableCursor(cursor)));
          if (!ok) {
            expect([400, 404]).toContain(res.status);
            expect((await expectErrorShape(res)).error).toMatch(/^(invalid_request|not_found)$/);
            expect(requests).toBe(0);
            return;
          }
          expect(res.status).toBe(200);
          expect(requests).toBe(1);
        }),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  // Found by the property above: Date.parse accepts these, PostgreSQL does not, so they reached the
  // database and came back as a 503.
  it.each([
    ["year 0", "0000-01-28T00:00:00.000000Z"],
    ["February 30", "2024-02-30T00:00:00.000000Z"],
    ["April 31", "2023-04-31T12:00:00.000000Z"],
    ["hour 24", "2024-01-01T24:00:00.000000Z"],
  ])("GET /v1/users/:userId/sessions answers a cursor on %s with 400, without asking the database", async (_n, at) => {
    const counted = countedDatabase();
    const cursor = base64url(`${at}|${crypto.randomUUID()}`);
    const res = await callWorker(
      `/v1/users/${session.userId}/sessions?cursor=${cursor}`,
      { headers: adminHeaders },
      { DATABASE_URL: counted.databaseUrl },
    );
    expect(res.status).toBe(400);
    expect((await expectErrorShape(res)).issues).toEqual([
      { path: "cursor", message: "is not a cursor this service issued" },
    ]);
    expect(await counted.requests()).toBe(0);
  });

  it(
    "the session's own endpoints ignore any query string",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 30 }), async (query) => {
          const res = await callWorker(`/v1/sessions/current?${encodeURIComponent(query)}`, bearer(session.token));
          expect(res.status).toBe(200);
        }),
        { numRuns: Math.min(200, FUZZ_RUNS) },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

/**
 * Whether a cursor is one the service could have issued: base64url of "<timestamp>|<uuid>" where
 * the timestamp is a real instant (a calendar date that exists, in years 1 to 9999) with
 * microseconds, as the listing writes it.
 */
function isIssuableCursor(cursor: string): boolean {
  if (cursor.length > 200) return false;
  let decoded: string;
  try {
    decoded = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return false;
  }
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{6})?(?:\+00:00|Z)\|(.*)$/.exec(decoded);
  if (match === null || !GUID.test(match[7] ?? "")) return false;
  const [y, mo, d, h, mi, s] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(2000, mo, 0)).getUTCDate() - (mo === 2 && !isLeap(y) ? 1 : 0);
  return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth && h <= 23 && mi <= 59 && s <= 59;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}
