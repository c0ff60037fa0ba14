import type { Config, Env } from "./config";
import type { Db } from "./db/client";
import type { MetricsBinding } from "./metrics";

/**
 * The one Hono environment every router and middleware of this Worker is typed with. The caller's
 * session, `c.var.session`, is typed for every Hono app through `ContextVariableMap`
 * (src/middleware/session-auth.ts), as `hono/jwt` types its payload.
 */
export type AppEnv = {
  Bindings: Env & MetricsBinding;
  Variables: {
    config: Config;
    db: Db;
    /** Set by the gateway: the response is the origin's, relayed as it came. */
    fromOrigin: boolean;
  };
};
