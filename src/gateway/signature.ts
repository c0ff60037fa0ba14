import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { ValidSession } from "../sessions/outcome";

/**
 * `X-Session-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
 *
 *     v1 \n t \n METHOD \n path?query \n session id \n user id \n tenant id (or empty) \n app type
 *
 * under GATEWAY_SIGNING_KEY. The origin recomputes it to know the identity headers came from us,
 * and rejects stale timestamps: binding the method and path keeps a captured header set from being
 * replayed against another endpoint, the timestamp bounds replay against the same one.
 * docs/gateway.md has a verification snippet.
 */
export function signIdentity(
  key: string,
  request: { method: string; pathAndQuery: string },
  session: ValidSession,
  unixSeconds: number,
): string {
  const payload = [
    "v1",
    String(unixSeconds),
    request.method.toUpperCase(),
    request.pathAndQuery,
    session.id,
    String(session.userId),
    session.tenantId === null ? "" : String(session.tenantId),
    session.appType,
  ].join("\n");
  return `t=${unixSeconds},v1=${bytesToHex(hmac(sha256, utf8ToBytes(key), utf8ToBytes(payload)))}`;
}
