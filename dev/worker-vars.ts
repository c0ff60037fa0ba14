import type { Env } from "../src/types";

export type WorkerVarName = keyof Env;

// A record rather than an array so that `tsc` fails when the Worker's Env gains a variable that is
// missing here (npm run dev would silently drop it) or loses one that is still listed.
const workerVars: Record<WorkerVarName, true> = {
  DATABASE_URL: true,
  NEON_LOCAL_HTTP: true,
  IDLE_TIMEOUT_MINUTES: true,
  ABSOLUTE_TIMEOUT_HOURS: true,
  MAX_ABSOLUTE_TIMEOUT_HOURS: true,
  TOUCH_INTERVAL_SECONDS: true,
  VALIDATION_TIMEOUT_MS: true,
  RETRY_AFTER_SECONDS: true,
  REALM: true,
  ADMIN_API_KEY: true,
  ORIGIN_URL: true,
  FORWARD_AUTHORIZATION: true,
  GATEWAY_SIGNING_KEY: true,
  GATEWAY_MAX_BODY_BYTES: true,
  EXPIRY_BATCH_SIZE: true,
  EXPIRY_TIME_BUDGET_MS: true,
  SESSION_RETENTION_DAYS: true,
};

/**
 * Every variable the Worker reads from its environment (parsed in src/config.ts), for the tools
 * that start or configure it.
 *
 * @example
 * // npm run dev passes each one set in the shell through to `wrangler dev`:
 * const passed = WORKER_VAR_NAMES.filter((name) => process.env[name]);
 */
export const WORKER_VAR_NAMES = Object.freeze(Object.keys(workerVars) as WorkerVarName[]);
