import type { Config } from "./config";
import type { Db } from "./db/client";
import type { ValidSession } from "./sessions/outcome";

/** The Worker's bindings: variables from wrangler.toml / .dev.vars and secrets. All optional but DATABASE_URL. */
export interface Env {
  DATABASE_URL: string;
  NEON_LOCAL_HTTP?: string;
  IDLE_TIMEOUT_MINUTES?: string;
  ABSOLUTE_TIMEOUT_HOURS?: string;
  MAX_ABSOLUTE_TIMEOUT_HOURS?: string;
  TOUCH_INTERVAL_SECONDS?: string;
  VALIDATION_TIMEOUT_MS?: string;
  RETRY_AFTER_SECONDS?: string;
  REALM?: string;
  ADMIN_API_KEY?: string;
  ORIGIN_URL?: string;
  FORWARD_AUTHORIZATION?: string;
  GATEWAY_SIGNING_KEY?: string;
  GATEWAY_MAX_BODY_BYTES?: string;
  EXPIRY_BATCH_SIZE?: string;
  EXPIRY_TIME_BUDGET_MS?: string;
  SESSION_RETENTION_DAYS?: string;
}

/** The one Hono environment every router and middleware of this Worker is typed with. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    config: Config;
    db: Db;
    session: ValidSession;
    /** Set by the gateway: the response is the origin's, relayed as it came. */
    fromOrigin: boolean;
  };
};
