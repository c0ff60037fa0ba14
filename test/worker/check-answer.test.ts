import { env } from "cloudflare:workers";
import { type SQL, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { buildCheckQuery, buildRereadQuery, buildUnchangedQuery } from "../../src/db/check-statement";
import { createDb, queryRows } from "../../src/db/client";
import { hashToken } from "../../src/sessions/check-hash";
import { createTenant, insertSession, sql as owner } from "../helpers/db";

/*
 * The check function answers whichever of its three statements answered, as JSON: nothing but
 * these tests holds the three to one shape, so a column added to one and not the others, or of
 * another type, would change the answer on one path only (the touch, the contended re-read).
 */
const db = createDb(parseConfig(env as unknown as Record<string, unknown>));

const KEYS = [
  "id",
  "user_id",
  "tenant_id",
  "app_type",
  "status",
  "ended_reason",
  "created_at",
  "last_activity_at",
  "absolute_expires_at",
  "idle_expires_at",
  "valid_for_seconds",
];

function parameters(token: string) {
  return { tokenHash: sql`${hashToken(token)}`, idleTimeoutMinutes: sql`30::int`, touchIntervalSeconds: sql`60::int` };
}

/** Each value's JSON type, as the Worker reads it: `row_to_json` of the row. */
async function answerOf(statement: SQL) {
  const [row] = await queryRows<{ answer: Record<string, unknown> }>(
    db,
    sql`select row_to_json(a) as answer from (${statement}) a`,
  );
  return row?.answer;
}

describe("the check function's three statements", () => {
  it("answer the same keys in the same order, with the same JSON types, for a live session", async () => {
    const s = await insertSession({ tenantId: await createTenant(), appType: "tenant_app" });
    const answers = [
      await answerOf(buildUnchangedQuery(parameters(s.token))),
      await answerOf(buildRereadQuery(parameters(s.token))),
    ];
    // The check statement holds a data-modifying CTE, which cannot be a subquery: read as it stands.
    const [checked] = await queryRows<Record<string, unknown>>(db, buildCheckQuery(parameters(s.token)));
    answers.push(checked);
    const shapes = answers.map((answer) => Object.entries(answer ?? {}).map(([key, value]) => [key, typeof value]));
    expect(shapes[0]?.map(([key]) => key)).toEqual(KEYS);
    expect(shapes[1]).toEqual(shapes[0]);
    expect(shapes[2]).toEqual(shapes[0]);
    expect(answers.map((answer) => answer?.status)).toEqual(["valid", "valid", "valid"]);
  });

  it("the function answers one value: the row as JSON, or null for a token no session has", async () => {
    const s = await insertSession();
    const [known] = await owner.query("select session_gate_check_json($1, 30, 60) as row", [hashToken(s.token)]);
    expect(Object.keys(known?.row ?? {})).toEqual(KEYS);
    expect(known?.row).toMatchObject({ id: s.id, status: "valid", ended_reason: null, tenant_id: null });
    const unknown = await owner.query("select session_gate_check_json($1, 30, 60) as row", [
      hashToken("no-such-token"),
    ]);
    expect(unknown).toEqual([{ row: null }]);
  });

  it("the previous version's function stays as it was, so that version keeps working once this one's migrations ran", async () => {
    // Exactly the call the version before makes (an upgrade migrates, then deploys; a rollback goes back to it).
    const s = await insertSession();
    const [row] = await queryRows<{ row: Record<string, unknown> }>(
      db,
      sql`select row_to_json(c) as row from session_gate_check(${hashToken(s.token)}, ${30}::int, ${60}::int) c`,
    );
    expect(row?.row).toMatchObject({ id: s.id, status: "valid", ended_reason: null });
    expect(Object.keys(row?.row ?? {})).toEqual(KEYS);
  });
});
