/** What the example app needs to know, read once from the environment (README.md lists it). */
export interface BrowserAppConfig {
  port: number;
  /** session-gate as this server reaches it directly (admin API, JWKS), not through the proxy. */
  sessionGateUrl: URL;
  /** session-gate's ADMIN_API_KEY: issuing sessions is an admin call. A secret. */
  adminApiKey: string;
  /** session-gate's SESSION_COOKIE_NAME: the cookie this app sets at login. */
  cookieName: string;
  /** The origins browsers reach this app on, through the proxy: the only places `rd` may lead. */
  appOrigins: string[];
  /** What session-gate's assertion must say: ASSERTION_ISSUER, ASSERTION_AUDIENCE, ASSERTION_HEADER. */
  assertion: { issuer: string; audience: string; header: string };
}

/** Reads the configuration; a missing or malformed variable fails at start, naming it. */
export function readConfig(env: Record<string, string | undefined>): BrowserAppConfig {
  const required = (name: string) => {
    const value = env[name];
    if (value === undefined || value === "")
      throw new Error(`${name} is required (see examples/browser-app/README.md)`);
    return value;
  };
  const url = (name: string, value: string) => {
    try {
      return new URL(value);
    } catch {
      throw new Error(`${name} must be an absolute URL`);
    }
  };
  const appOrigins = required("APP_ORIGINS")
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "")
    .map((origin) => url("APP_ORIGINS", origin).origin);
  return {
    port: Number(env.PORT ?? 9000),
    sessionGateUrl: url("SESSION_GATE_URL", env.SESSION_GATE_URL ?? "http://127.0.0.1:8787"),
    adminApiKey: required("ADMIN_API_KEY"),
    cookieName: env.SESSION_COOKIE_NAME ?? "__Host-session",
    appOrigins,
    assertion: {
      issuer: env.ASSERTION_ISSUER ?? "session-gate",
      audience: required("ASSERTION_AUDIENCE"),
      header: (env.ASSERTION_HEADER ?? "X-Session-Assertion").toLowerCase(),
    },
  };
}
