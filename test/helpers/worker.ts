import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inject } from "vitest";
import type { Env } from "../../src/config";
import worker from "../../src/index";

/**
 * Sends a request to the real Worker (its default export, as workerd runs it), optionally with
 * some variables overridden: each distinct env is parsed once, as in production.
 */
export async function callWorker(
  path: string,
  init: RequestInit = {},
  overrides: Partial<Env> = {},
): Promise<Response> {
  return callWorkerIn({ ...env, ...overrides }, path, init);
}

/** The test bindings with some overridden, as one env object that calls can share (and so its config and caches). */
export function testEnv(overrides: Partial<Env> = {}): Cloudflare.Env {
  return { ...env, ...overrides };
}

/** Like callWorker, with an env object the caller keeps: what one isolate's config and caches see across requests. */
export async function callWorkerIn(workerEnv: Cloudflare.Env, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const request = new Request(`http://gate.test${path}`, init);
  const res = await worker.fetch(request, workerEnv, ctx);
  await waitOnExecutionContext(ctx);
  await logResponse(request, res);
  return res;
}

/**
 * A copy of every answer of the Worker's own routes goes to the test run's response log, which
 * checks it against /openapi.json at the end (test/setup/response-contract.ts). Gateway answers
 * (the origin's) are not the service's to describe.
 */
async function logResponse(request: Request, res: Response): Promise<void> {
  if (res.headers.get("x-origin") !== null) return;
  const record = {
    method: request.method,
    path: new URL(request.url).pathname,
    status: res.status,
    headers: Object.fromEntries(res.headers),
    body: await res.clone().text(),
  };
  await fetch(`http://127.0.0.1:${env.TEST_RESPONSE_LOG_PORT}/`, { method: "POST", body: JSON.stringify(record) });
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

const wireFaults = Object.entries(inject("wireFaults"));

/**
 * DATABASE_URLs that reach a database in trouble (see test/setup/fault-servers.ts): down
 * (connection refused), failing (500s), slow (answers after the deadline), and each fault of a
 * misbehaving wire.
 */
export const faultyDatabases: Record<"down" | "failing" | "slow", string> & Record<string, string> = {
  down: onPort(env.TEST_CLOSED_PORT),
  failing: onPort(env.TEST_FAILING_PORT),
  slow: onPort(env.TEST_SLOW_PORT),
  ...Object.fromEntries(wireFaults.map(([fault, { port }]) => [fault, onPort(String(port))])),
};

/**
 * The faults after which the statement may have run, and a write committed (whole: each is one
 * statement or one transaction): the database answered late, or its answer was spoiled on the way.
 */
export const faultsAfterStatement: ReadonlySet<string> = new Set([
  "slow",
  ...wireFaults.filter(([, { ran }]) => ran).map(([fault]) => fault),
]);
