/**
 * The vocabulary the existing application writes into `sessions` (see the seed model): every
 * value here is part of the contract, so rows it writes validate here unchanged.
 */
export const REVOKE_REASONS = [
  "logout",
  "idle_timeout",
  "absolute_timeout",
  "admin_revoke",
  "password_change",
  "cleanup_stale",
] as const;
export type RevokeReason = (typeof REVOKE_REASONS)[number];

export const APP_TYPES = ["control_panel", "tenant_app"] as const;
export type AppType = (typeof APP_TYPES)[number];

export const DEFAULT_APP_TYPE: AppType = "control_panel";

/** Reasons an administrator may give; the timeouts and 'cleanup_stale' belong to the service. */
export const ADMIN_REASONS = ["admin_revoke", "password_change", "logout"] as const satisfies readonly RevokeReason[];
