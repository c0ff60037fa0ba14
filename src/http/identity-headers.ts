import type { Config } from "../config";
import type { ValidSession } from "../sessions/session";

type HeaderNames = Pick<Config, "sessionIdHeader" | "userIdHeader" | "tenantIdHeader" | "appTypeHeader">;

/** The configured names of the identity headers (X-Session-Id, X-User-Id, X-Tenant-Id, X-App-Type by default). */
export function identityHeaderNames(config: HeaderNames): string[] {
  return [config.sessionIdHeader, config.userIdHeader, config.tenantIdHeader, config.appTypeHeader];
}

/** The identity headers, always all four, so a proxy that copies them overwrites client-sent ones. */
export function identityHeaders(session: ValidSession, config: HeaderNames): Record<string, string> {
  return {
    [config.sessionIdHeader]: session.id,
    [config.userIdHeader]: String(session.userId),
    [config.tenantIdHeader]: session.tenantId === null ? "" : String(session.tenantId),
    [config.appTypeHeader]: session.appType,
  };
}
