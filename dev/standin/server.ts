import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Backend, type BatchOptions, type BatchQuery, type IsolationLevel, isolationLevels } from "./backend";

export interface RequestStats {
  requests: number;
  byApplicationName: Record<string, number>;
}

/** A failure to report as HTTP `status` with a JSON body, as Neon's endpoint would. */
class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}

// The fields of a Postgres error that the driver copies onto its NeonDbError.
const postgresErrorFields = [
  "message",
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

/**
 * An HTTP server speaking Neon's SQL-over-HTTP protocol (POST /sql) in front of `backend`.
 * Not listening yet: the caller picks the port and binds to 127.0.0.1.
 *
 * It runs whatever SQL it is sent, as a role that may be a superuser (`COPY ... TO PROGRAM`), on a
 * developer's machine, where any web page the developer opens can send requests to 127.0.0.1. So
 * before anything else it refuses what a browser would send and the driver never does:
 * - a `Host` other than the loopback address and port it listens on (DNS rebinding: a page on
 *   attacker.example re-pointed at 127.0.0.1 still sends `Host: attacker.example`);
 * - any `Origin` header (the driver sends none; every cross-origin browser request has one);
 * - a body that is not the driver's `text/plain;charset=UTF-8`, or no `Neon-Connection-String`
 *   (a custom header, so a browser would need a preflight this server never grants);
 * - a connection string without this run's `secret` as its password.
 */
export function createStandInServer(
  backend: Backend,
  log: (line: string) => void,
  options: { secret: string },
): { server: Server; stats: () => RequestStats } {
  const stats: RequestStats = { requests: 0, byApplicationName: {} };
  const secret = Buffer.from(options.secret, "utf8");

  async function route(request: IncomingMessage): Promise<[number, unknown]> {
    const refusal = refuseForeign(request, (server.address() as AddressInfo | null)?.port);
    if (refusal !== undefined) return [403, { message: `stand-in: ${refusal}`, code: "" }];
    const path = new URL(request.url ?? "/", "http://standin").pathname;
    if (path === "/sql") {
      if (request.method !== "POST") return [405, { message: "POST only" }];
      const mediaType = request.headers["content-type"] ?? "";
      if (mediaType.replace(/\s/g, "").toLowerCase() !== "text/plain;charset=utf-8") {
        return [415, { message: "stand-in: the body must be text/plain;charset=UTF-8, as the Neon driver sends it" }];
      }
      const connectionString = request.headers["neon-connection-string"];
      if (typeof connectionString !== "string") {
        return [400, { message: "missing Neon-Connection-String header", code: "" }];
      }
      if (!hasSecret(connectionString, secret)) {
        return [400, { message: "password authentication failed: the stand-in's secret is required", code: "28P01" }];
      }
      // Counted before running, so a test can see a request that then failed.
      countRequest(stats, request.headers["neon-connection-string"]);
      return [200, await runSql(backend, request)];
    }
    if (request.method === "GET" && path === "/__standin/stats") {
      return [200, stats];
    }
    if (request.method === "GET" && path === "/__standin/health") {
      return [200, { backend: backend.kind, description: backend.description }];
    }
    return [404, { message: `no route for ${request.method} ${path}` }];
  }

  // Never rejects: whatever goes wrong becomes a response, so no request can crash the process.
  async function handle(request: IncomingMessage, response: ServerResponse) {
    let status: number;
    let body: unknown;
    try {
      [status, body] = await route(request);
    } catch (error) {
      [status, body] = describeFailure(error);
      if (status === 500) {
        log(`stand-in: ${request.method} ${request.url} failed: ${describe(error)}`);
      }
    }
    try {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    } catch (error) {
      log(`stand-in: could not answer ${request.method} ${request.url}: ${describe(error)}`);
      response.destroy();
    }
  }

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  return { server, stats: () => structuredClone(stats) };
}

/** Why a request cannot be the driver on this machine, or undefined when it may be. */
function refuseForeign(request: IncomingMessage, port: number | undefined): string | undefined {
  const host = request.headers.host ?? "";
  if (port === undefined || (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`)) {
    return `Host must be 127.0.0.1:${port} or localhost:${port}`;
  }
  if (request.headers.origin !== undefined) return "requests from web pages (with an Origin header) are refused";
  return undefined;
}

/** Whether the connection string's password is the secret, compared in constant time. */
function hasSecret(connectionString: string, secret: Buffer): boolean {
  let password: Buffer;
  try {
    password = Buffer.from(decodeURIComponent(new URL(connectionString).password), "utf8");
  } catch {
    return false;
  }
  return password.length === secret.length && timingSafeEqual(password, secret);
}

async function runSql(backend: Backend, request: IncomingMessage): Promise<unknown> {
  const body = parseJson(await readBody(request));
  if (isRecord(body) && Array.isArray(body.queries)) {
    const queries = body.queries.map(parseQuery);
    return {
      results: await backend.batch(queries, parseBatchOptions(request)),
    };
  }
  const { query, params } = parseQuery(body);
  return backend.query(query, params);
}

function parseQuery(value: unknown): BatchQuery {
  if (
    isRecord(value) &&
    typeof value.query === "string" &&
    (value.params === undefined ||
      (Array.isArray(value.params) && value.params.every((param) => param === null || typeof param === "string")))
  ) {
    return {
      query: value.query,
      params: (value.params ?? []) as (string | null)[],
    };
  }
  throw protocolViolation('expected {"query": string, "params": (string | null)[]} or {"queries": [...]}');
}

function parseBatchOptions(request: IncomingMessage): BatchOptions {
  const options: BatchOptions = {};
  const isolationLevel = request.headers["neon-batch-isolation-level"];
  if (isolationLevel !== undefined) {
    if (!isolationLevels.includes(isolationLevel as IsolationLevel)) {
      throw protocolViolation(`Neon-Batch-Isolation-Level must be one of ${isolationLevels.join(", ")}`);
    }
    options.isolationLevel = isolationLevel as IsolationLevel;
  }
  const readOnly = parseBooleanHeader(request, "neon-batch-read-only");
  if (readOnly !== undefined) options.readOnly = readOnly;
  const deferrable = parseBooleanHeader(request, "neon-batch-deferrable");
  if (deferrable !== undefined) options.deferrable = deferrable;
  return options;
}

function parseBooleanHeader(request: IncomingMessage, name: string): boolean | undefined {
  const value = request.headers[name];
  if (value === undefined) return undefined;
  if (value === "true" || value === "false") return value === "true";
  throw protocolViolation(`${name} must be "true" or "false"`);
}

function countRequest(stats: RequestStats, connectionString: string | string[] | undefined) {
  stats.requests += 1;
  if (typeof connectionString !== "string") return;
  try {
    const name = new URL(connectionString).searchParams.get("application_name");
    if (name !== null) {
      stats.byApplicationName[name] = (stats.byApplicationName[name] ?? 0) + 1;
    }
  } catch {
    // A malformed connection string is the driver's concern; the request still counts.
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw protocolViolation("request body is not JSON");
  }
}

// 08P01 (protocol_violation) is the SQLSTATE closest to "this is not a valid request".
function protocolViolation(message: string): HttpFailure {
  return new HttpFailure(400, { message, code: "08P01" });
}

function isPostgresError(error: unknown): error is Record<string, unknown> {
  // Errors sent by Postgres carry a severity and a five-character SQLSTATE; Node's own errors
  // have codes too (ECONNREFUSED, EPIPE) but no severity.
  return (
    isRecord(error) &&
    typeof error.severity === "string" &&
    typeof error.code === "string" &&
    /^[0-9A-Z]{5}$/.test(error.code)
  );
}

function pickPostgresFields(error: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of postgresErrorFields) {
    if (error[field] !== undefined) body[field] = error[field];
  }
  return body;
}

function describeFailure(error: unknown): [number, unknown] {
  if (error instanceof HttpFailure) return [error.status, error.body];
  if (isPostgresError(error)) return [400, pickPostgresFields(error)];
  // Anything else is a fault of the stand-in or an unreachable database: say so, stay up.
  return [500, { message: `stand-in error: ${describe(error)}` }];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
