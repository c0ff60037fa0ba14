import { createApp } from "./app";
import type { Env } from "./config";
import { getConfig } from "./config";
import { createDb } from "./db/client";
import { runExpiryJob } from "./jobs/expiry-job";
import type { MetricsBinding } from "./metrics";

const app = createApp();

export default {
  fetch: app.fetch,
  /** The cron trigger (wrangler.toml `[triggers]`): one run of the expiry job, src/jobs/expiry-job.ts. */
  scheduled(_controller, env, ctx) {
    const config = getConfig(env);
    // No request deadline on this handle: a batch of thousands of rows may take longer than a
    // check may, and the job's time budget already decides when to stop starting batches.
    ctx.waitUntil(runExpiryJob(createDb(config), config, { metrics: env.METRICS }));
  },
} satisfies ExportedHandler<Env & MetricsBinding>;

// The service binding's entrypoint (wrangler.toml of a consumer: `entrypoint = "SessionValidator"`).
export { SessionValidator } from "./session-validator";
