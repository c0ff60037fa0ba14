import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { ValidSession } from "../sessions/session";

export const SIGNATURE_HEADER = "x-session-signature";
export const CONTENT_DIGEST_HEADER = "content-digest";

/** RFC 9530 `Content-Digest` of the exact bytes forwarded: `sha-256=:<base64>:`. */
export function contentDigest(digest: Uint8Array): string {
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return `sha-256=:${btoa(binary)}:`;
}

/**
 * `X-Session-Signature: t=<unix seconds>,v2=<hex HMAC-SHA256>` over
 *
 *     v2 \n t \n METHOD \n path?query \n session id \n user id \n tenant id (or empty) \n app type \n Content-Digest
 *
 * under GATEWAY_SIGNING_KEY, where path?query is what the origin receives and Content-Digest is
 * the header sent with it (the SHA-256 of the exact body bytes). The origin recomputes it to know
 * the identity headers came from us and belong to this request: the method, path and body digest
 * keep a captured header set from being replayed against another endpoint or with another body,
 * and the timestamp bounds replay of the same request. v1 signed no body; docs/gateway.md has a
 * verification snippet.
 */
export function signIdentity(
  key: string,
  request: { method: string; pathAndQuery: string; contentDigest: string },
  session: ValidSession,
  unixSeconds: number,
): string {
  const payload = [
    "v2",
    String(unixSeconds),
    request.method.toUpperCase(),
    request.pathAndQuery,
    session.id,
    String(session.userId),
    session.tenantId === null ? "" : String(session.tenantId),
    session.appType,
    request.contentDigest,
  ].join("\n");
  return `t=${unixSeconds},v2=${bytesToHex(hmac(sha256, utf8ToBytes(key), utf8ToBytes(payload)))}`;
}
