import type { Config } from "../config";
import { checkSessionByTokenHash } from "../db/check-statement";
import { DatabaseError, type Db } from "../db/client";
import { logEvent } from "../log";
import { isWellFormedToken } from "./check-bearer";
import { checkCacheFor } from "./check-cache";
import { type CredentialSource, type PresentedCredentials, readCredential } from "./check-credentials";
import { hashToken } from "./check-hash";
import type { CheckOutcome, CheckRequirements, RejectReason } from "./check-outcome";

export interface TokenCheck {
  outcome: CheckOutcome;
  /** Milliseconds spent waiting for the database; null when the request never reached it. */
  dbMs: number | null;
}

export interface CheckResult extends TokenCheck {
  /** Where the token came from; null when the request presented no usable one. */
  source: CredentialSource | null;
}

/**
 * The session check behind every entry point (HTTP, middleware, service binding): syntax first, so
 * garbage never costs a query; then one statement that checks, touches and lazily expires.
 * Throws `DatabaseError` when the database cannot answer: callers fail closed.
 */
export async function checkSession(
  db: Db,
  config: Config,
  presented: PresentedCredentials,
  requirements: CheckRequirements = {},
): Promise<CheckResult> {
  const credential = readCredential(presented, config.sessionCookieName);
  if (!credential.ok) return { ...reject(REJECTIONS[credential.reason]), source: null };
  return { ...(await checkToken(db, config, credential.token, requirements)), source: credential.source };
}

const REJECTIONS = {
  missing: "missing_credentials",
  malformed: "malformed_credentials",
  malformed_cookie: "malformed_cookie",
} as const satisfies Record<string, RejectReason>;

/** The same check for a bare token (the service binding's entry), its syntax checked here too. */
export async function checkToken(
  db: Db,
  config: Config,
  token: string,
  requirements: CheckRequirements = {},
): Promise<TokenCheck> {
  if (!isWellFormedToken(token)) return reject("malformed_credentials");

  const tokenHash = hashToken(token);
  const cache = checkCacheFor(config);
  const cached = cache?.get(tokenHash);
  if (cached !== undefined) {
    const outcome = decide({ status: "valid", session: cached, validForSeconds: 0 }, requirements);
    logCheck(outcomeLine(outcome, null, true));
    return { outcome, dbMs: null };
  }
  const started = performance.now();
  let lookup: Awaited<ReturnType<typeof checkSessionByTokenHash>>;
  try {
    lookup = await checkSessionByTokenHash(db, tokenHash, config);
  } catch (error) {
    // The reason names a permanent cause (a missing privilege, migration, ...) when there is one.
    const reason = error instanceof DatabaseError ? (error.permanent ?? "database_unavailable") : "internal_error";
    logCheck({ outcome: "error", reason, dbMs: round(performance.now() - started) });
    throw error;
  }
  const dbMs = round(performance.now() - started);
  if (lookup.status === "valid") cache?.set(tokenHash, lookup.session, lookup.validForSeconds);
  const outcome = decide(lookup, requirements);
  logCheck(outcomeLine(outcome, dbMs, false));
  return { outcome, dbMs };
}

function outcomeLine(outcome: CheckOutcome, dbMs: number | null, cached: boolean) {
  const line = outcome.ok
    ? { outcome: "valid", sessionId: outcome.session.id, dbMs }
    : { outcome: "rejected", reason: outcome.reason, sessionId: outcome.sessionId, dbMs };
  return cached ? { ...line, cached } : line;
}

function reject(reason: RejectReason): TokenCheck {
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
function logCheck(entry: {
  outcome: string;
  reason?: string;
  sessionId?: string;
  dbMs: number | null;
  cached?: boolean;
}): void {
  logEvent("info", { event: "session_check", ...entry });
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
