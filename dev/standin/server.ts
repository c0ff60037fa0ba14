import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Backend, SqlRequest } from "./backend";
import { parseConnectionString } from "./connection-string";
import { createCredentialCheck } from "./credentials";
import { describe, describeFailure, proxyError } from "./neon-error";
import { parsePayload, readBody } from "./request-body";
import { createResponseBudget } from "./response-size";
import { batchResponseHeaders, parseBatchOptions } from "./transaction-modes";

export interface RequestStats {
  /** Requests to /sql that passed authentication. */
  requests: number;
  byApplicationName: Record<string, number>;
  /** Password checks that read pg_authid and ran PBKDF2; verified passwords are cached a few seconds. */
  passwordLookups: number;
  /**
   * With `delayMs`: how long each request was really held, in ms, the latest last (at most
   * `MAX_HOLDS`). A timer fires late by a fraction of a millisecond, so "the delay" a measurement
   * compares with is this, not `delayMs`.
   */
  heldMs: number[];
}

const MAX_HOLDS = 10_000;

export interface StandInServerOptions {
  secret: string;
  maxRequestBytes: number;
  maxResponseBytes: number;
  /** Held before running each /sql request (startStandIn's `delayMs`); 0 for none. */
  delayMs: number;
}

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * An HTTP server speaking Neon's SQL-over-HTTP protocol (POST /sql) in front of `backend`.
 * Not listening yet: the caller picks the port and binds to 127.0.0.1.
 *
 * It runs whatever SQL an authenticated request sends, possibly as a superuser (`COPY ... TO
 * PROGRAM`), on a developer's machine, where any web page the developer opens can send requests to
 * 127.0.0.1. So before Neon's own checks it refuses what a browser would send and the driver never
 * does (deviations from Neon, listed in docs/neon-contract.md):
 * - a `Host` other than the loopback address and port it listens on (DNS rebinding: a page on
 *   attacker.example re-pointed at 127.0.0.1 still sends `Host: attacker.example`);
 * - any `Origin` header (the driver sends none; every cross-origin browser request has one);
 * - a body that is not the driver's `text/plain;charset=UTF-8`, or no `Neon-Connection-String`
 *   (a custom header, so a browser would need a preflight this server never grants).
 */
export function createStandInServer(
  backend: Backend,
  log: (line: string) => void,
  options: StandInServerOptions,
): { server: Server; stats: () => RequestStats } {
  const stats: RequestStats = { requests: 0, byApplicationName: {}, passwordLookups: 0, heldMs: [] };
  const checkCredentials = createCredentialCheck({
    adminUser: backend.admin.user,
    secret: options.secret,
    readPasswordSecret: (user) => backend.readPasswordSecret(user),
    onLookup: () => {
      stats.passwordLookups += 1;
    },
  });

  /** POST /sql, in the order of Neon's proxy (sql_over_http.rs, `handle_inner`). */
  async function serveSql(request: IncomingMessage, signal: AbortSignal): Promise<Answer> {
    const connection = parseConnectionString(request.headers["neon-connection-string"], request.headers.authorization);
    const batchOptions = parseBatchOptions(request.headers);
    // Neon reads the body while it authenticates: whichever fails first is the answer.
    const [payload] = await Promise.all([
      readBody(request, options.maxRequestBytes).then(parsePayload),
      checkCredentials(connection.user, connection.password),
    ]);
    // Counted before running, so a test can see a request that then failed.
    countRequest(stats, connection.applicationName);
    // Rejects when the client goes away meanwhile: nothing has run, and nobody reads the answer.
    if (options.delayMs > 0) {
      const holding = performance.now();
      await sleep(options.delayMs, undefined, { signal });
      if (stats.heldMs.push(performance.now() - holding) > MAX_HOLDS) stats.heldMs.shift();
    }
    const sqlRequest: SqlRequest = payload.kind === "single" ? payload : { ...payload, options: batchOptions };
    const result = await backend.execute(sqlRequest, {
      user: connection.user,
      database: connection.database,
      signal,
      onResult: createResponseBudget(options.maxResponseBytes, payload.kind),
    });
    return Array.isArray(result)
      ? { status: 200, body: { results: result }, headers: batchResponseHeaders(batchOptions) }
      : { status: 200, body: result };
  }

  async function route(request: IncomingMessage, signal: AbortSignal): Promise<Answer> {
    const refusal = refuseForeign(request, (server.address() as AddressInfo | null)?.port);
    if (refusal !== undefined) throw proxyError(403, `stand-in: ${refusal}`);
    const path = new URL(request.url ?? "/", "http://standin").pathname;
    if (request.method === "POST" && path === "/sql") {
      const mediaType = request.headers["content-type"] ?? "";
      if (mediaType.replace(/\s/g, "").toLowerCase() !== "text/plain;charset=utf-8") {
        throw proxyError(415, "stand-in: the body must be text/plain;charset=UTF-8, as the Neon driver sends it");
      }
      return serveSql(request, signal);
    }
    if (request.method === "GET" && path === "/__standin/stats") return { status: 200, body: stats };
    if (request.method === "GET" && path === "/__standin/health") {
      return { status: 200, body: { backend: backend.kind, description: backend.description } };
    }
    // Neon's answer to any other method or path: a JSON string, not an object.
    return { status: 400, body: "query is not supported" };
  }

  // Never rejects: whatever goes wrong becomes a response, so no request can crash the process.
  async function handle(request: IncomingMessage, response: ServerResponse) {
    const cancel = new AbortController();
    // The request's 'close' fires once its body is read; the response's before it is finished
    // means the client went away.
    response.on("close", () => {
      if (!response.writableFinished) cancel.abort();
    });
    let answer: Answer;
    try {
      answer = await route(request, cancel.signal);
    } catch (error) {
      answer = describeFailure(error);
      if (answer.status >= 500 && !cancel.signal.aborted) {
        log(`stand-in: ${request.method} ${request.url} failed: ${describe(error)}`);
      }
    }
    if (cancel.signal.aborted) return;
    try {
      // Neon's proxy answers with a whole body and its Content-Length (hyper's Full body), never
      // chunked; the Worker reads a declared length as it comes (src/db/response-limit.ts).
      const body = JSON.stringify(answer.body);
      response.writeHead(answer.status, {
        ...answer.headers,
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
      });
      response.end(body);
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

function countRequest(stats: RequestStats, applicationName: string | null) {
  stats.requests += 1;
  if (applicationName !== null) {
    stats.byApplicationName[applicationName] = (stats.byApplicationName[applicationName] ?? 0) + 1;
  }
}
