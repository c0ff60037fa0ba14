import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { createDb, queryRows } from "../../src/db/client";
import { expiryRule } from "../../src/db/expiry-rule";
import { sessionsAs } from "../../src/db/sessions-alias";

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
