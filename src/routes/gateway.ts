import { Hono } from "hono";
import { bearerChallenge } from "../auth/challenge";
import { signIdentity } from "../auth/gateway-signature";
import { ERROR_CODES, httpError } from "../errors";
import { checkSession } from "../sessions/check";
import type { AppEnv } from "../types";
import { IDENTITY_HEADERS, identityHeaders } from "./session-http";

export const SIGNATURE_HEADER = "x-session-signature";

// Hop-by-hop headers (RFC 9110 §7.6.1) and ones the runtime sets for the new request itself.
const NOT_FORWARDED = ["host", "connection", "keep-alive", "te", "trailer", "upgrade", "proxy-connection"];

/**
 * Gateway mode (ORIGIN_URL set): every request the service does not answer itself is checked, and
 * only a valid one is forwarded to the origin, with identity headers we set after deleting any copy
 * the client sent, and an HMAC over them. A rejected request never reaches the origin.
 */
export const gatewayRoutes = new Hono<AppEnv>().all("*", async (c) => {
  const { config, db } = c.var;
  if (config.originUrl === undefined || config.gatewaySigningKey === undefined) {
    throw httpError(404, { error: ERROR_CODES.notFound, error_description: "No such route." });
  }
  const { outcome } = await checkSession(db, config, c.req.header("authorization") ?? null);
  if (!outcome.ok) throw bearerChallenge(config.realm, outcome.reason);

  const incoming = new URL(c.req.url);
  const target = new URL(incoming.pathname + incoming.search, config.originUrl);
  const headers = new Headers(c.req.raw.headers);
  for (const name of [...NOT_FORWARDED, ...IDENTITY_HEADERS, SIGNATURE_HEADER]) headers.delete(name);
  if (!config.forwardAuthorization) headers.delete("authorization");
  for (const [name, value] of Object.entries(identityHeaders(outcome.session))) headers.set(name, value);
  const signature = signIdentity(
    config.gatewaySigningKey,
    { method: c.req.method, pathAndQuery: incoming.pathname + incoming.search },
    outcome.session,
    Math.floor(Date.now() / 1000),
  );
  headers.set(SIGNATURE_HEADER, signature);

  const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
  let response: Response;
  try {
    response = await fetch(target, {
      method: c.req.method,
      headers,
      body: hasBody ? c.req.raw.body : null,
      redirect: "manual",
    });
  } catch {
    throw httpError(502, { error: ERROR_CODES.badGateway, error_description: "The origin did not answer." });
  }
  c.set("fromOrigin", true);
  return response;
});
