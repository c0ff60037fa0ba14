import { env } from "cloudflare:workers";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { expect } from "vitest";
import { TEST_SECRETS } from "../secrets";

/** The gateway's key in these tests, and the variables that turn gateway mode on. */
export const SIGNING_KEY = TEST_SECRETS.gatewaySigningKey;
export const ORIGIN = `http://127.0.0.1:${env.TEST_ORIGIN_PORT}`;
export const gateway = { ORIGIN_URL: ORIGIN, GATEWAY_SIGNING_KEY: SIGNING_KEY };

/** What the echo origin (test/setup/echo-origin.ts) saw of a request. */
export interface Echoed {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  body: string;
}

/** Identity values no session of ours can have: a forwarded copy of any of them is a spoof that got through. */
export const SPOOFED = {
  "x-session-id": "00000000-0000-4000-8000-00000000dead",
  "x-user-id": "987654321",
  "x-tenant-id": "987654321",
  "x-app-type": "spoofed_app",
  "x-session-signature": "t=1,v2=forged",
  "content-digest": "sha-256=:Zm9yZ2Vk:",
} as const;

/** How many requests for `path` reached the origin (or the attacker's server), and how many at all. */
export async function seenBy(port: string, path: string): Promise<{ count: number; total: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/__echo/seen?path=${encodeURIComponent(path)}`);
  return (await res.json()) as { count: number; total: number };
}

export async function originSaw(path: string): Promise<number> {
  return (await seenBy(env.TEST_ORIGIN_PORT, path)).count;
}

/**
 * The verification an origin runs, written independently of src/ (it is what docs/gateway.md
 * shows): the body's digest, then the HMAC over the request line, the identity and the digest.
 */
export function verifySignature(echoed: Echoed, key: string = SIGNING_KEY, maxAgeSeconds = 60): boolean {
  const h = echoed.headers;
  const match = /^t=(\d+),v2=([0-9a-f]{64})$/.exec(h["x-session-signature"] ?? "");
  if (!match) return false;
  const digest = `sha-256=:${btoa(String.fromCharCode(...sha256(new TextEncoder().encode(echoed.body))))}:`;
  if (h["content-digest"] !== digest) return false;
  const payload = [
    "v2",
    match[1],
    echoed.method,
    echoed.url,
    h["x-session-id"],
    h["x-user-id"],
    h["x-tenant-id"],
    h["x-app-type"],
    digest,
  ].join("\n");
  const expected = bytesToHex(hmac(sha256, new TextEncoder().encode(key), new TextEncoder().encode(payload)));
  return expected === match[2] && Math.abs(Date.now() / 1000 - Number(match[1])) < maxAgeSeconds;
}

/** The four identity headers the origin received are exactly this session's, and signed. */
export function expectIdentity(
  echoed: Echoed,
  session: { id: string; userId: number; tenantId: number | null; appType?: string },
): void {
  expect({
    "x-session-id": echoed.headers["x-session-id"],
    "x-user-id": echoed.headers["x-user-id"],
    "x-tenant-id": echoed.headers["x-tenant-id"],
    "x-app-type": echoed.headers["x-app-type"],
  }).toEqual({
    "x-session-id": session.id,
    "x-user-id": String(session.userId),
    "x-tenant-id": session.tenantId === null ? "" : String(session.tenantId),
    "x-app-type": session.appType ?? "control_panel",
  });
  expect(verifySignature(echoed)).toBe(true);
}
