import { ERROR_CODES, httpError } from "../errors";
import { POSITIVE_INTEGER } from "./schemas";

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
  const parsed = POSITIVE_INTEGER.safeParse(value);
  if (!parsed.success) {
    throw httpError(400, {
      error: ERROR_CODES.invalidRequest,
      error_description: "The X-Tenant-Id header must be a positive integer.",
      issues: [{ path: "x-tenant-id", message: "must be a positive integer" }],
    });
  }
  return parsed.data;
}
