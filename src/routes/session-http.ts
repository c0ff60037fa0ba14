import { ERROR_CODES, httpError } from "../errors";
import type { ValidSession } from "../sessions/outcome";

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

export function sessionJson(session: ValidSession) {
  return {
    session: {
      id: session.id,
      user_id: session.userId,
      tenant_id: session.tenantId,
      app_type: session.appType,
      created_at: session.createdAt,
      last_activity_at: session.lastActivityAt,
      absolute_expires_at: session.absoluteExpiresAt,
      idle_expires_at: session.idleExpiresAt,
    },
  };
}

/**
 * The tenant the caller requires, from `?tenant_id` or the `X-Tenant-Id` request header. It can
 * only narrow access (a mismatch is 403), so a client sending it gains nothing. An empty header
 * requires nothing; two requirements that disagree are a 400, never one silently winning.
 */
export function tenantRequirement(fromQuery: number | undefined, header: string | undefined): number | undefined {
  const fromHeader = header === undefined || header.trim() === "" ? undefined : parseTenantHeader(header.trim());
  if (fromQuery !== undefined && fromHeader !== undefined && fromQuery !== fromHeader) {
    throw httpError(400, {
      error: ERROR_CODES.invalidRequest,
      error_description: "The tenant_id query parameter and the X-Tenant-Id header require different tenants.",
      issues: [{ path: "x-tenant-id", message: "differs from tenant_id" }],
    });
  }
  return fromQuery ?? fromHeader;
}

function parseTenantHeader(value: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(value) || Number(value) > 2_147_483_647) {
    throw httpError(400, {
      error: ERROR_CODES.invalidRequest,
      error_description: "The X-Tenant-Id header must be a positive integer.",
      issues: [{ path: "x-tenant-id", message: "must be a positive integer" }],
    });
  }
  return Number(value);
}
