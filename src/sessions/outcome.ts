import type { AppType } from "./constants";

/** What the apps behind us learn about a valid session: identity and timing, never the hash. */
export interface ValidSession {
  id: string;
  userId: number;
  tenantId: number | null;
  appType: AppType;
  /** ISO-8601 UTC times, as the database computed them. */
  createdAt: string;
  lastActivityAt: string;
  absoluteExpiresAt: string;
  idleExpiresAt: string;
}

/** Why a presented token does not let the request through. Only logs see the finer distinctions. */
export type RejectReason =
  | "missing_credentials"
  | "malformed_credentials"
  | "unknown"
  | "inactive"
  | "idle_timeout"
  | "absolute_timeout"
  | "app_type_mismatch"
  | "tenant_mismatch";

export type CheckOutcome =
  | { ok: true; session: ValidSession }
  | { ok: false; reason: RejectReason; sessionId?: string };

export interface CheckRequirements {
  appType?: AppType;
  tenantId?: number;
}
