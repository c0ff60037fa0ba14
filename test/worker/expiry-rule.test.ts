import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { createDb, queryRows } from "../../src/db/client";
import { expiryRule, isoTimestamp } from "../../src/db/expiry-rule";
import { sessionsAs } from "../../src/db/sessions-alias";
import { isoformatOf } from "../helpers/db";

/*
 * The rule evaluated at exact instants, in one statement so `now()` is the same everywhere: the
 * boundary cases a test through HTTP cannot hit, because time passes between its statements.
 */
const db = createDb(parseConfig(env as unknown as Record<string, unknown>));
const rule = expiryRule(sessionsAs("t"), 30);

async function evaluate(lastActivity: string, absoluteExpires: string) {
  const [row] = await queryRows<{
    expired: boolean;
    reason: string;
    exact: boolean;
  }>(
    db,
    sql`select ${rule.isExpired} as expired, ${rule.reason} as reason, ${rule.endedAt} = least(t.absolute_expires_at, t.last_activity_at + interval '30 minutes') as exact
      from (select now() - ${sql.raw(lastActivity)} as last_activity_at, now() + ${sql.raw(absoluteExpires)} as absolute_expires_at) t`,
  );
  return row;
}

describe("the expiry rule", () => {
  it.each([
    [
      "idle one microsecond short of the limit",
      "interval '29 minutes 59.999999 seconds'",
      "interval '1 hour'",
      false,
      "idle_timeout",
    ],
    [
      "idle exactly at the limit (expired, like the seed's >=)",
      "interval '30 minutes'",
      "interval '1 hour'",
      true,
      "idle_timeout",
    ],
    ["at the absolute expiry instant", "interval '0'", "interval '0'", true, "absolute_timeout"],
    [
      "one microsecond before the absolute expiry",
      "interval '0'",
      "interval '0.000001 seconds'",
      false,
      "absolute_timeout",
    ],
    [
      "both limits at the same instant (absolute wins the tie)",
      "interval '30 minutes'",
      "interval '0'",
      true,
      "absolute_timeout",
    ],
  ])("%s", async (_name, idle, absolute, expired, reason) => {
    expect(await evaluate(idle, absolute)).toEqual({
      expired,
      reason,
      exact: true,
    });
  });
});

describe("the times the service answers with", () => {
  // As Python's isoformat() writes a UTC datetime (the seed's to_dict): `+00:00`, and six digits
  // of microseconds exactly when there are any.
  it.each([
    ["2026-11-30 06:54:41+00", "2026-11-30T06:54:41+00:00"],
    ["2026-11-30 06:54:41.5+00", "2026-11-30T06:54:41.500000+00:00"],
    ["2026-11-30 06:54:41.000001+00", "2026-11-30T06:54:41.000001+00:00"],
    ["2026-11-30 06:54:41.999999+00", "2026-11-30T06:54:41.999999+00:00"],
    ["2026-11-30 07:54:41.1+01", "2026-11-30T06:54:41.100000+00:00"],
    ["2028-02-29 23:59:59.000010-05", "2028-03-01T04:59:59.000010+00:00"],
    ["1970-01-01 00:00:00+00", "1970-01-01T00:00:00+00:00"],
    ["0001-01-01 00:00:00.1+00", "0001-01-01T00:00:00.100000+00:00"],
    ["9999-12-31 23:59:59.999999+00", "9999-12-31T23:59:59.999999+00:00"],
  ])("%s is %s", async (value, iso) => {
    const [row] = await queryRows<{ iso: string }>(db, sql`select ${isoTimestamp(sql`${value}::timestamptz`)} as iso`);
    expect(row).toEqual({ iso });
  });

  it("agree with the two-part format they replaced, over 100,000 times with and without microseconds", async () => {
    // The earlier format (written with the fraction only when it is not zero), which the tests'
    // helpers keep as their oracle; every fifth time falls on a whole second.
    const earlier = isoformatOf("v");
    const [row] = await queryRows<{ differ: number; whole: number }>(
      db,
      sql`select count(*) filter (where ${isoTimestamp(sql.raw("v"))} is distinct from ${sql.raw(earlier)})::int as differ,
          count(*) filter (where ${isoTimestamp(sql.raw("v"))} not like '%.%')::int as whole
        from (select timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => g * 7919.123457 * (g % 5 <> 0)::int + g * 7919 * (g % 5 = 0)::int) as v
          from generate_series(1, 100000) g) times`,
    );
    expect(row).toEqual({ differ: 0, whole: 20000 });
  });

  it("is null for a time that is not one (infinity), as before", async () => {
    const [row] = await queryRows<{ iso: string | null }>(
      db,
      sql`select ${isoTimestamp(sql`'infinity'::timestamptz`)} as iso`,
    );
    expect(row).toEqual({ iso: null });
  });
});
