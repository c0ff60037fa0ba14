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

/** The Worker's DATABASE_URL (credentials and all) pointed at another loopback port. */
function onPort(port: string): string {
  const url = new URL(env.DATABASE_URL);
  url.port = port;
  return url.toString();
}

/** DATABASE_URLs that reach a database in trouble (see test/setup/fault-servers.ts). */
export const faultyDatabases = {
  down: onPort(env.TEST_CLOSED_PORT),
  failing: onPort(env.TEST_FAILING_PORT),
  slow: onPort(env.TEST_SLOW_PORT),
};
