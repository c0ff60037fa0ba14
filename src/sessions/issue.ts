import type { Config } from "../config";
import type { Db } from "../db/client";
import { insertSession } from "../db/session-lifecycle";
import { hashToken } from "./check-hash";
import { type AppType, DEFAULT_APP_TYPE } from "./constants";
import type { Session } from "./session";
import { generateToken } from "./token";

/** The shortest absolute lifetime a session may be issued with: it must outlive the answer carrying its token. */
export const MIN_SESSION_LIFETIME_SECONDS = 60;

export interface IssueRequest {
  userId: number;
  tenantId?: number | null;
  appType?: AppType;
  ipAddress?: string | null;
  userAgent?: string | null;
  /** Default ABSOLUTE_TIMEOUT_HOURS; at least a minute, at most MAX_ABSOLUTE_TIMEOUT_HOURS. */
  absoluteTimeoutHours?: number;
}

export type IssueResult =
  | { ok: true; token: string; session: Session }
  | { ok: false; problem: "lifetime_too_short" | "lifetime_too_long" | "unknown_user" | "unknown_tenant" };

/**
 * Issues a session: a new token (returned once: the database gets only its hash) and a row whose
 * absolute expiry the database computes from its own clock. A lifetime out of bounds, or a user or
 * tenant that does not exist, is an expected miss, not an error.
 */
export async function issueSession(db: Db, config: Config, request: IssueRequest): Promise<IssueResult> {
  const hours = request.absoluteTimeoutHours ?? config.absoluteTimeoutHours;
  const absoluteTimeoutSeconds = Math.round(hours * 3600);
  if (absoluteTimeoutSeconds < MIN_SESSION_LIFETIME_SECONDS) return { ok: false, problem: "lifetime_too_short" };
  if (hours > config.maxAbsoluteTimeoutHours) return { ok: false, problem: "lifetime_too_long" };
  const token = generateToken();
  const inserted = await insertSession(
    db,
    {
      userId: request.userId,
      tenantId: request.tenantId ?? null,
      appType: request.appType ?? DEFAULT_APP_TYPE,
      ipAddress: request.ipAddress ?? null,
      userAgent: request.userAgent ?? null,
      tokenHash: hashToken(token),
      absoluteTimeoutSeconds,
    },
    config,
  );
  if ("missing" in inserted)
    return { ok: false, problem: inserted.missing === "user" ? "unknown_user" : "unknown_tenant" };
  return { ok: true, token, session: inserted };
}
