import { createApp } from "./app";
import { getConfig } from "./config";
import { createDb } from "./db/client";
import { runExpiryJob } from "./jobs/expire";
import type { Env } from "./types";

const app = createApp();

export default {
  fetch: app.fetch,
  /** The cron trigger (wrangler.toml `[triggers]`): one run of the expiry job, src/jobs/expire.ts. */
  scheduled(_controller, env, ctx) {
    const config = getConfig(env);
    // No request deadline on this handle: a batch of thousands of rows may take longer than a
    // validation may, and the job's time budget already decides when to stop starting batches.
    ctx.waitUntil(runExpiryJob(createDb(config), config));
  },
} satisfies ExportedHandler<Env>;

export { type SessionAuthOptions, sessionAuth } from "./middleware/session-auth";
export { SessionValidator, type ValidateResult } from "./session-validator";
export type { AppType } from "./sessions/constants";
export type { CheckOutcome, RejectReason, ValidSession } from "./sessions/outcome";
export type { Env } from "./types";
