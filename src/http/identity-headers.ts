import type { ValidSession } from "../sessions/session";

/** The identity headers, always all four, so a proxy that copies them overwrites client-sent ones. */
export const IDENTITY_HEADERS = ["x-session-id", "x-user-id", "x-tenant-id", "x-app-type"] as const;

export function identityHeaders(session: ValidSession): Record<(typeof IDENTITY_HEADERS)[number], string> {
  return {
    "x-session-id": session.id,
    "x-user-id": String(session.userId),
    "x-tenant-id": session.tenantId === null ? "" : String(session.tenantId),
    "x-app-type": session.appType,
  };
}
