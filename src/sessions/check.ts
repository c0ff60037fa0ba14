import type { Config } from "../config";
import { checkSessionByTokenHash } from "../db/check-statement";
import { DatabaseError, type Db } from "../db/client";
import { logEvent } from "../log";
import { type EntryPoint, writeCheckPoint } from "../metrics";
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
  observer: CheckObserver = DEFAULT_OBSERVER,
): Promise<CheckResult> {
  const credential = readCredential(presented, config.sessionCookieName);
  if (!credential.ok) return { ...reject(REJECTIONS[credential.reason], observer), source: null };
  return { ...(await checkToken(db, config, credential.token, requirements, observer)), source: credential.source };
}

/** Who is told of each check, besides the log: the entry point it came in by, and the metrics dataset if bound. */
export interface CheckObserver {
  entryPoint: EntryPoint;
  metrics?: AnalyticsEngineDataset;
}

const DEFAULT_OBSERVER: CheckObserver = { entryPoint: "session_auth" };

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
  observer: CheckObserver = DEFAULT_OBSERVER,
): Promise<TokenCheck> {
  if (!isWellFormedToken(token)) return reject("malformed_credentials", observer);

  const tokenHash = hashToken(token);
  const cache = checkCacheFor(config);
  const cached = cache?.get(tokenHash);
  if (cached !== undefined) {
    const outcome = decide({ status: "valid", session: cached, validForSeconds: 0 }, requirements);
    report(observer, outcomeLine(outcome, null, true), cached.appType);
    return { outcome, dbMs: null };
  }
  const started = performance.now();
  let lookup: Awaited<ReturnType<typeof checkSessionByTokenHash>>;
  try {
    lookup = await checkSessionByTokenHash(db, tokenHash, config);
  } catch (error) {
    // The reason names a permanent cause (a missing privilege, migration, ...) when there is one.
    const reason = error instanceof DatabaseError ? (error.permanent ?? "database_unavailable") : "internal_error";
    report(observer, { outcome: "error", reason, dbMs: round(performance.now() - started) });
    throw error;
  }
  const dbMs = round(performance.now() - started);
  if (lookup.status === "valid") cache?.set(tokenHash, lookup.session, lookup.validForSeconds);
  const outcome = decide(lookup, requirements);
  report(observer, outcomeLine(outcome, dbMs, false), lookup.status === "valid" ? lookup.session.appType : undefined);
  return { outcome, dbMs };
}

function outcomeLine(outcome: CheckOutcome, dbMs: number | null, cached: boolean) {
  const line = outcome.ok
    ? { outcome: "valid", sessionId: outcome.session.id, dbMs }
    : { outcome: "rejected", reason: outcome.reason, sessionId: outcome.sessionId, dbMs };
  return cached ? { ...line, cached } : line;
}

function reject(reason: RejectReason, observer: CheckObserver): TokenCheck {
  report(observer, { outcome: "rejected", reason, dbMs: null });
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

// One structured line per check, and one data point when metrics are bound. Never the token or
// its hash: a log is not a credential store.
function report(
  observer: CheckObserver,
  entry: { outcome: string; reason?: string; sessionId?: string; dbMs: number | null; cached?: boolean },
  appType?: string,
): void {
  logEvent("info", { event: "session_check", entryPoint: observer.entryPoint, ...entry });
  writeCheckPoint(observer.metrics, { ...entry, entryPoint: observer.entryPoint, appType });
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
