import type { Config } from "../config";
import { checkSessionByTokenHash } from "../db/check-statement";
import type { Db } from "../db/client";
import { logEvent } from "../log";
import { isWellFormedToken, readBearerToken } from "./check-bearer";
import { hashToken } from "./check-hash";
import type { CheckOutcome, CheckRequirements, RejectReason } from "./check-outcome";

export interface CheckResult {
  outcome: CheckOutcome;
  /** Milliseconds spent waiting for the database; null when the request never reached it. */
  dbMs: number | null;
}

/**
 * The session check behind every entry point (HTTP, middleware, service binding): syntax first, so
 * garbage never costs a query; then one statement that checks, touches and lazily expires.
 * Throws `DatabaseError` when the database cannot answer: callers fail closed.
 */
export async function checkSession(
  db: Db,
  config: Config,
  authorization: string | null,
  requirements: CheckRequirements = {},
): Promise<CheckResult> {
  const bearer = readBearerToken(authorization);
  if (!bearer.ok) return reject(bearer.reason === "missing" ? "missing_credentials" : "malformed_credentials");
  return checkToken(db, config, bearer.token, requirements);
}

/** The same check for a bare token (the service binding's entry), its syntax checked here too. */
export async function checkToken(
  db: Db,
  config: Config,
  token: string,
  requirements: CheckRequirements = {},
): Promise<CheckResult> {
  if (!isWellFormedToken(token)) return reject("malformed_credentials");

  const started = performance.now();
  let dbMs: number | null = null;
  let logged = false;
  try {
    const lookup = await checkSessionByTokenHash(db, hashToken(token), config);
    dbMs = round(performance.now() - started);
    const outcome = decide(lookup, requirements);
    logged = true;
    logCheck(
      outcome.ok
        ? { outcome: "valid", sessionId: outcome.session.id, dbMs }
        : {
            outcome: "rejected",
            reason: outcome.reason,
            sessionId: outcome.sessionId,
            dbMs,
          },
    );
    return { outcome, dbMs };
  } finally {
    if (!logged)
      logCheck({
        outcome: "error",
        reason: "database_unavailable",
        dbMs: round(performance.now() - started),
      });
  }
}

function reject(reason: RejectReason): CheckResult {
  logCheck({ outcome: "rejected", reason, dbMs: null });
  return { outcome: { ok: false, reason }, dbMs: null };
}

function decide(
  lookup: Awaited<ReturnType<typeof checkSessionByTokenHash>>,
  requirements: CheckRequirements,
): CheckOutcome {
  switch (lookup.status) {
    case "unknown":
      return { ok: false, reason: "unknown" };
    case "inactive":
      return { ok: false, reason: "inactive", sessionId: lookup.sessionId };
    case "expired":
      return { ok: false, reason: lookup.reason, sessionId: lookup.sessionId };
    case "valid": {
      const { session } = lookup;
      if (requirements.appType !== undefined && session.appType !== requirements.appType) {
        return {
          ok: false,
          reason: "app_type_mismatch",
          sessionId: session.id,
        };
      }
      if (requirements.tenantId !== undefined && session.tenantId !== requirements.tenantId) {
        return { ok: false, reason: "tenant_mismatch", sessionId: session.id };
      }
      return { ok: true, session };
    }
  }
}

// One structured line per check. Never the token or its hash: a log is not a credential store.
function logCheck(entry: { outcome: string; reason?: string; sessionId?: string; dbMs: number | null }): void {
  logEvent("info", { event: "session_check", ...entry });
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
