/**
 * What the two peer Workers (lucia/, better-auth/) share, so that they differ only in the library
 * they run: the driver pointed at the local stand-in, a request deadline, and the answers that are
 * not the library's (401 without a session, Hono's default 500 for anything thrown).
 */
import { neonConfig } from "@neondatabase/serverless";

/**
 * A module Worker's `fetch`, typed without the Workers globals: the peers are also type-checked
 * with the Node side of the bench (tsconfig.node.json takes all of bench/), where
 * `ExportedHandler` does not exist. bench/peers/tsconfig.json checks them with Workers types.
 */
export interface PeerWorker<Env> {
  fetch(request: Request, env: Env): Promise<Response>;
}

export interface PeerEnv {
  DATABASE_URL: string;
  /** "true" for the local stand-in: plain http://host:port/sql. */
  NEON_LOCAL_HTTP?: string;
  /**
   * Past this many milliseconds a request answers 500, whatever it was waiting for (default 2000,
   * session-gate's VALIDATION_TIMEOUT_MS). Neither library has a deadline of its own: the bench
   * adds one so that a database that does not answer can be compared.
   */
  REQUEST_TIMEOUT_MS?: string;
  /** App-level absolute lifetime in hours (default 8; 0 turns the check off): neither library has one. */
  ABSOLUTE_TIMEOUT_HOURS?: string;
}

/** Once per isolate, before the first query. */
export function configureDriver(env: PeerEnv): void {
  if (env.NEON_LOCAL_HTTP === "true") neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;
}

export function absoluteTimeoutMs(env: PeerEnv): number {
  return Number(env.ABSOLUTE_TIMEOUT_HOURS ?? "8") * 3_600_000;
}

class DeadlineError extends Error {
  override name = "DeadlineError";
}

/**
 * Runs `handle` with the request deadline: past it the request fails as a database error would
 * (the statement still waiting is cancelled when the response ends the request).
 */
async function withDeadline(env: PeerEnv, handle: () => Promise<Response>): Promise<Response> {
  const ms = Number(env.REQUEST_TIMEOUT_MS ?? "2000");
  let timer: ReturnType<typeof setTimeout> | null = null;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([handle(), deadline]);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

/**
 * The Worker's entry: the deadline, and what Hono's default error handler does with anything
 * thrown (`console.error(error)`, then 500 "Internal Server Error"), as a typical app built on
 * either library would answer when the database is down.
 */
export function peerWorker<Env extends PeerEnv>(
  route: (request: Request, env: Env) => Promise<Response>,
): PeerWorker<Env> {
  return {
    async fetch(request, env) {
      try {
        return await withDeadline(env, () => route(request, env));
      } catch (error) {
        console.error(error);
        return new Response("Internal Server Error", { status: 500 });
      }
    },
  };
}

export function unauthorized(realm: string): Response {
  return Response.json(
    { error: "unauthorized" },
    { status: 401, headers: { "www-authenticate": `Bearer realm="${realm}"` } },
  );
}

export function notFound(): Response {
  return new Response("not found", { status: 404 });
}
