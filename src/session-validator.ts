import { WorkerEntrypoint } from "cloudflare:workers";
import type { Env } from "./config";
import { getConfig } from "./config";
import { createDb, DatabaseError } from "./db/client";
import type { MetricsBinding } from "./metrics";
import { checkToken } from "./sessions/check";
import type { CheckOutcome } from "./sessions/check-outcome";
import type { AppType } from "./sessions/constants";

/** The outcome a bound Worker receives: the check's own outcome, or the database being unavailable. */
export type ValidateResult = CheckOutcome | { ok: false; reason: "unavailable" };

/**
 * The check for other Workers bound to this one by a service binding: no network hop, no HTTP.
 * It fails closed: when the database cannot answer, the result is `{ ok: false, reason: "unavailable" }`.
 *
 * @example
 * ```ts
 * // wrangler.toml of the consumer:
 * //   [[services]]
 * //   binding = "SESSIONS"
 * //   service = "session-gate"
 * //   entrypoint = "SessionValidator"
 * const result = await env.SESSIONS.validate(token, { appType: "tenant_app" });
 * if (!result.ok) return new Response("Unauthorized", { status: 401 });
 * ```
 */
export class SessionValidator extends WorkerEntrypoint<Env & MetricsBinding> {
  async validate(token: string, requirements: { appType?: AppType; tenantId?: number } = {}): Promise<ValidateResult> {
    const config = getConfig(this.env);
    const db = createDb(config, { timeoutMs: config.validationTimeoutMs });
    try {
      const observer = { entryPoint: "binding" as const, metrics: this.env.METRICS };
      return (await checkToken(db, config, String(token), requirements, observer)).outcome;
    } catch (error) {
      if (error instanceof DatabaseError) return { ok: false, reason: "unavailable" };
      throw error;
    } finally {
      db.release();
    }
  }
}
