/**
 * The fixed addresses written into docs/proxies/*: the tests start everything exactly there, so
 * the published files run unchanged.
 */
export const PORTS = {
  sessionGate: 8787,
  origin: 9000,
  nginx: 8080,
  caddy: 8081,
} as const;

/**
 * The identity header names written into docs/proxies/* (the user's id renamed to Remote-User, the
 * rest session-gate's defaults): the Worker under test is configured with exactly these.
 */
export const RECIPE_HEADERS = {
  sessionId: "X-Session-Id",
  userId: "Remote-User",
  tenantId: "X-Tenant-Id",
  appType: "X-App-Type",
  assertion: "X-Session-Assertion",
} as const;
