import type { AppType } from "./constants";
import type { ValidSession } from "./session";

/** Why a presented token does not let the request through. Only logs see the finer distinctions. */
export type RejectReason =
  | "missing_credentials"
  | "malformed_credentials"
  | "malformed_cookie"
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
