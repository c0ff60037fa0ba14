import * as z from "zod";
import { APP_TYPES, type REVOKE_REASONS } from "../sessions/constants";

/*
 * The request schemas of the lifecycle API, in one place: they validate every request and are the
 * source of its description. Objects are strict: an unknown field is a client bug worth reporting.
 */

const PG_INT_MAX = 2_147_483_647;
/**
 * A positive integer written plainly in a path or query string: digits only, no sign, exponent,
 * hex prefix or padding (which `Number()` would quietly accept), within `max`.
 */
export function integerParam(max: number) {
  return z
    .string()
    .regex(/^[1-9][0-9]{0,9}$/, "must be a positive integer")
    .transform(Number)
    .pipe(z.number().max(max));
}

export const databaseId = integerParam(PG_INT_MAX);
export const sessionId = z.guid();

export const issueSessionBody = z.strictObject({
  user_id: z.number().int().min(1).max(PG_INT_MAX),
  tenant_id: z.number().int().min(1).max(PG_INT_MAX).nullable().optional(),
  app_type: z.enum(APP_TYPES).optional(),
  ip_address: z.union([z.ipv4(), z.ipv6()]).nullable().optional(),
  user_agent: z.string().max(1024).nullable().optional(),
  /** Bounded above by MAX_ABSOLUTE_TIMEOUT_HOURS, checked in the handler where config is known. */
  absolute_timeout_hours: z.number().positive().finite().optional(),
});

/** Reasons an administrator may give; the timeouts and 'cleanup_stale' belong to the service. */
export const ADMIN_REASONS = [
  "admin_revoke",
  "password_change",
  "logout",
] as const satisfies readonly (typeof REVOKE_REASONS)[number][];

export const revokeSessionBody = z.strictObject({
  reason: z.enum(ADMIN_REASONS).default("admin_revoke"),
});

export const revokeUserSessionsBody = z.strictObject({
  reason: z.enum(["password_change", "admin_revoke"]),
  except_session_id: sessionId.optional(),
});

export const LIST_LIMIT_MAX = 100;
export const listSessionsQuery = z.strictObject({
  active: z.enum(["true", "false"]).optional(),
  limit: integerParam(LIST_LIMIT_MAX).default(20),
  cursor: z.string().max(200).optional(),
});

export const userIdParam = z.object({ userId: databaseId });
export const sessionIdParam = z.object({ id: sessionId });
