import { env } from "cloudflare:workers";
import { expect } from "vitest";

/*
 * What the property tests expect of any answer, written from the documented contract (RFC 6750 and
 * the error catalog), not from the code under test: an independent oracle for the fuzz properties.
 */

/** Cases per property: FUZZ_RUNS (vitest.config.ts binding), a few hundred unless `npm run test:fuzz`. */
export const FUZZ_RUNS = Math.max(1, Number(env.FUZZ_RUNS) || 200);
/** A property test's time limit: 60 ms a case, and never under the suite's usual 30 s. */
export const FUZZ_TIMEOUT_MS = Math.max(30_000, FUZZ_RUNS * 60);

/** Every error code the service documents, by the statuses it may come with. */
const CODES_BY_STATUS: Record<number, readonly string[]> = {
  400: ["invalid_request"],
  401: ["unauthorized", "invalid_request", "invalid_token"],
  403: ["insufficient_scope"],
  404: ["not_found"],
  413: ["invalid_request"],
  422: ["unprocessable_entity"],
  503: ["temporarily_unavailable", "not_configured"],
};

export interface ErrorBody {
  error: string;
  error_description: string;
  issues?: { path: string; message: string }[];
}

/**
 * Asserts the documented error shape: JSON `{error, error_description, issues?}` with a catalog
 * code for the status, never cached, and on 401/403 an RFC 6750 challenge naming the same error.
 */
export async function expectErrorShape(res: Response, realm = "session-gate"): Promise<ErrorBody> {
  expect(CODES_BY_STATUS[res.status], `status ${res.status} is not a documented error status`).toBeDefined();
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(res.headers.get("cache-control")).toBe("no-store");
  const body = (await res.json()) as ErrorBody;
  expect(Object.keys(body).every((k) => ["error", "error_description", "issues"].includes(k))).toBe(true);
  expect(CODES_BY_STATUS[res.status]).toContain(body.error);
  expect(typeof body.error_description).toBe("string");
  expect(body.error_description.length).toBeGreaterThan(0);
  if (body.issues !== undefined) {
    expect(Array.isArray(body.issues) && body.issues.length > 0).toBe(true);
    for (const issue of body.issues) {
      expect(Object.keys(issue).sort()).toEqual(["message", "path"]);
      expect(typeof issue.path).toBe("string");
      expect(typeof issue.message).toBe("string");
    }
  }
  const challenge = res.headers.get("www-authenticate");
  if (res.status === 401 || res.status === 403) {
    const expected =
      body.error === "unauthorized" ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="${body.error}"`;
    expect(challenge).toBe(expected);
  } else {
    expect(challenge).toBeNull();
  }
  if (res.status === 503 && body.error === "temporarily_unavailable") {
    expect(res.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
  }
  return body;
}

export type AuthorizationMeaning = { kind: "missing" } | { kind: "malformed" } | { kind: "token"; token: string };

/**
 * What an Authorization field value means by RFC 6750 §2.1 (`Bearer 1*SP b64token`, scheme in any
 * case) with the documented token length bounds (16 to 512). Field values reach the Worker with
 * leading and trailing spaces and tabs removed (RFC 9110 §5.5), so the oracle strips them too.
 */
export function meaningOfAuthorization(value: string | undefined): AuthorizationMeaning {
  if (value === undefined) return { kind: "missing" };
  const field = value.replace(/^[ \t]+|[ \t]+$/g, "");
  const match = /^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9._~+/-]+=*)$/.exec(field);
  const token = match?.[1];
  if (token === undefined || token.length < 16 || token.length > 512) return { kind: "malformed" };
  return { kind: "token", token };
}

/** The admin key the Worker tests run with (vitest.config.ts). */
export const ADMIN_KEY = env.ADMIN_API_KEY ?? "";
export const adminHeaders = { authorization: `Bearer ${ADMIN_KEY}` };

/**
 * How many database requests `run` cost, as the stand-in counted them under this counter's own
 * application_name (see `countedDatabase()`); read before and after, so a failed case never leaks
 * its count into the next one while fast-check shrinks.
 */
export async function countRequests<T>(
  requests: () => Promise<number>,
  run: () => Promise<T>,
): Promise<{ result: T; requests: number }> {
  const before = await requests();
  const result = await run();
  return { result, requests: (await requests()) - before };
}
