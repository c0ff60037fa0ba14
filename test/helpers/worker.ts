import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import type { Env } from "../../src/types";

/**
 * Sends a request to the real Worker (its default export, as workerd runs it), optionally with
 * some variables overridden: each distinct env is parsed once, as in production.
 */
export async function callWorker(
  path: string,
  init: RequestInit = {},
  overrides: Partial<Env> = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://gate.test${path}`, init), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export function bearer(token: string): RequestInit {
  return { headers: { authorization: `Bearer ${token}` } };
}

/** DATABASE_URLs that reach a database in trouble (see test/setup/fault-servers.ts). */
export const faultyDatabases = {
  down: `postgres://postgres@127.0.0.1:${env.TEST_CLOSED_PORT}/sessiongate`,
  failing: `postgres://postgres@127.0.0.1:${env.TEST_FAILING_PORT}/sessiongate`,
  slow: `postgres://postgres@127.0.0.1:${env.TEST_SLOW_PORT}/sessiongate`,
};
