import type { IncomingMessage } from "node:http";
import type { SqlQuery } from "./backend";
import { proxyError } from "./neon-error";
import { jsonToPgText } from "./params";

/** A request body as Neon's proxy reads it: one query, or a batch to run in one transaction. */
export type Payload = { kind: "single"; query: SqlQuery } | { kind: "batch"; queries: SqlQuery[] };

/**
 * The body, refused with Neon's 413 once it would pass `limitBytes` (http/mod.rs,
 * `read_body_with_limit`): at once when Content-Length says so, else as the bytes arrive.
 */
export function readBody(request: IncomingMessage, limitBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(request.headers["content-length"]) > limitBytes) reject(tooLarge(limitBytes));
    const chunks: Buffer[] = [];
    let size = 0;
    // Keeps reading past the limit, discarding: the client can then finish sending and read the
    // 413, where destroying the request would leave it with a reset connection.
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        chunks.length = 0;
        reject(tooLarge(limitBytes));
      } else {
        chunks.push(chunk);
      }
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", (error) => reject(proxyError(400, `could not read the HTTP request body: ${error.message}`)));
    // A client gone mid-body: nothing will end the read otherwise.
    request.on("close", () => reject(proxyError(400, "could not read the HTTP request body: connection closed")));
  });
}

function tooLarge(limitBytes: number) {
  return proxyError(413, `request is too large (max is ${limitBytes} bytes)`);
}

/**
 * The body as serde reads Neon's `Payload` (sql_over_http.rs): `{"query", "params"?, "arrayMode"?}`
 * is tried first, then `{"queries": [...]}`; unknown keys are ignored; params may be any JSON.
 * The detail after "could not parse the HTTP request body: " is serde_json's where the stand-in can
 * say the same, JavaScript's for other syntax errors.
 */
export function parsePayload(text: string): Payload {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw unparsable(text.trim() === "" ? "EOF while parsing a value at line 1 column 0" : (error as Error).message);
  }
  const single = parseQuery(value);
  if (single !== undefined) return { kind: "single", query: single };
  if (isRecord(value) && Array.isArray(value.queries)) {
    const queries = value.queries.map(parseQuery);
    if (queries.every((query) => query !== undefined)) return { kind: "batch", queries };
  }
  throw unparsable("data did not match any variant of untagged enum Payload");
}

function parseQuery(value: unknown): SqlQuery | undefined {
  if (!isRecord(value) || typeof value.query !== "string") return undefined;
  if (value.params !== undefined && !Array.isArray(value.params)) return undefined;
  // Option<bool>: null is None.
  if (value.arrayMode !== undefined && value.arrayMode !== null && typeof value.arrayMode !== "boolean") {
    return undefined;
  }
  return { query: value.query, params: ((value.params ?? []) as unknown[]).map(jsonToPgText) };
}

function unparsable(detail: string) {
  return proxyError(400, `could not parse the HTTP request body: ${detail}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
