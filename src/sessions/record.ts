import type { AppType, RevokeReason } from "./constants";

/**
 * A session as the seed's `to_dict` shows it (never the hash, nor the user agent): the shape of
 * every lifecycle answer. Times are ISO-8601 UTC strings. `is_active` is the effective state: a
 * session past its limits that nobody has ended yet reads as inactive (its reason stays null until a
 * validation or the expiry job ends it).
 */
export interface SessionRecord {
  id: string;
  user_id: number;
  tenant_id: number | null;
  created_at: string;
  last_activity_at: string;
  absolute_expires_at: string;
  ip_address: string | null;
  is_active: boolean;
  revoked_at: string | null;
  revoke_reason: RevokeReason | null;
  ended_at: string | null;
  app_type: AppType;
}
