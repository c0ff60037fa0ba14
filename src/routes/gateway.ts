import { sha256 } from "@noble/hashes/sha2.js";
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { assertionHeader } from "../assertion/sign";
import { ERROR_CODES, httpError } from "../errors";
import { forwardTarget } from "../gateway/forward-target";
import { readBoundedBody } from "../gateway/request-body";
import { CONTENT_DIGEST_HEADER, contentDigest, SIGNATURE_HEADER, signIdentity } from "../gateway/signature";
import { identityHeaderNames, identityHeaders } from "../http/identity-headers";
import { authenticate } from "../middleware/session-auth";
import { cookieValues } from "../sessions/check-credentials";

// Hop-by-hop headers (RFC 9110 §7.6.1), and `host`, which the runtime sets for the new request.
const HOP_BY_HOP = [
  "host",
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "upgrade",
  "proxy-connection",
  "transfer-encoding",
];

/**
 * Gateway mode (ORIGIN_URL set): every request the service does not answer itself is checked, and
 * only a valid one is forwarded to the origin, with identity headers we set after deleting any copy
 * the client sent, and an HMAC over them, the request line and the body's digest. A rejected
 * request never reaches the origin; nor does one whose path or body cannot be forwarded safely.
 */
export const gatewayRoutes = new Hono<AppEnv>().all("*", async (c) => {
  const config = c.get("config");
  if (config.originUrl === undefined || config.gatewaySigningKey === undefined) {
    throw httpError(404, { error: ERROR_CODES.notFound, error_description: "No such route." });
  }
  // Before the database is asked: a path we would refuse to forward costs no query.
  const target = forwardTarget(config.originUrl, new URL(c.req.url));
  if (!target.ok) {
    throw httpError(400, {
      error: ERROR_CODES.invalidRequest,
      error_description: `${target.problem} It cannot be forwarded safely.`,
      issues: [{ path: "path", message: "cannot be forwarded safely" }],
    });
  }
  const { session } = await authenticate(c, {}, { entryPoint: "gateway" });

  const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
  const body = hasBody ? await readBoundedBody(c.req.raw, config.gatewayMaxBodyBytes) : undefined;
  if (body !== undefined && !body.ok) {
    throw httpError(413, {
      error: ERROR_CODES.payloadTooLarge,
      error_description: `The request body is larger than ${config.gatewayMaxBodyBytes} bytes (GATEWAY_MAX_BODY_BYTES).`,
    });
  }
  const digest = contentDigest(body?.digest ?? EMPTY_DIGEST);

  const headers = new Headers(c.req.raw.headers);
  // Headers the client named in Connection are hop-by-hop too: they end here (RFC 9110 §7.6.1).
  const named = (headers.get("connection") ?? "").split(",").map((name) => name.trim().toLowerCase());
  const ours = [...identityHeaderNames(config), config.assertionHeader, SIGNATURE_HEADER, CONTENT_DIGEST_HEADER];
  for (const name of [...HOP_BY_HOP, ...named, ...ours]) {
    if (name !== "") headers.delete(name);
  }
  // The client's credentials are session-gate's business, unless FORWARD_AUTHORIZATION says otherwise.
  if (!config.forwardAuthorization) {
    headers.delete("authorization");
    if (config.sessionCookieName !== undefined) withoutCookie(headers, config.sessionCookieName);
  }
  for (const [name, value] of Object.entries(identityHeaders(session, config))) headers.set(name, value);
  for (const [name, value] of Object.entries(await assertionHeader(session, config))) headers.set(name, value);
  headers.set(CONTENT_DIGEST_HEADER, digest);
  headers.set(
    SIGNATURE_HEADER,
    signIdentity(
      config.gatewaySigningKey,
      { method: c.req.method, pathAndQuery: target.url.pathname + target.url.search, contentDigest: digest },
      session,
      Math.floor(Date.now() / 1000),
    ),
  );

  let response: Response;
  try {
    response = await fetch(target.url, {
      method: c.req.method,
      headers,
      body: body?.ok ? body.bytes : null,
      redirect: "manual",
    });
  } catch {
    throw httpError(502, { error: ERROR_CODES.badGateway, error_description: "The origin did not answer." });
  }
  c.set("fromOrigin", true);
  return response;
});

/** Removes cookie `name` from the request's Cookie header, keeping the application's own cookies. */
function withoutCookie(headers: Headers, name: string): void {
  const cookie = headers.get("cookie");
  if (cookie === null || cookieValues(cookie, name).length === 0) return;
  const kept = cookie
    .split(";")
    .map((pair) => pair.trim())
    .filter((pair) => pair !== "" && pair.slice(0, pair.indexOf("=")).trim() !== name);
  if (kept.length === 0) headers.delete("cookie");
  else headers.set("cookie", kept.join("; "));
}

// What a GET or HEAD forwards: no bytes.
const EMPTY_DIGEST = sha256(new Uint8Array(0));
