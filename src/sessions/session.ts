import type { AppType, RevokeReason } from "./constants";

/**
 * A session, the one shape the domain knows: the seed's columns, camelCased, without the hash
 * and the user agent (never shown). Times are ISO-8601 UTC strings as the database computed them.
 * `isActive` is the effective state: a session past its limits that nobody has ended yet reads
 * as inactive (its reason stays null until a check or the expiry job ends it). The HTTP edge
 * shows it snake_cased, as the seed's `to_dict` does (src/http/session-json.ts).
 */
export interface Session {
  id: string;
  userId: number;
  tenantId: number | null;
  createdAt: string;
  lastActivityAt: string;
  absoluteExpiresAt: string;
  ipAddress: string | null;
  isActive: boolean;
  revokedAt: string | null;
  revokeReason: RevokeReason | null;
  endedAt: string | null;
  appType: AppType;
}

/**
 * What the check knows of a valid session and the apps behind us learn: identity and timing,
 * with when it will idle out if unused.
 */
export type ValidSession = Pick<
  Session,
  "id" | "userId" | "tenantId" | "appType" | "createdAt" | "lastActivityAt" | "absoluteExpiresAt"
> & { idleExpiresAt: string };
