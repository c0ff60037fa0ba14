import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { ERROR_CODES, httpError } from "../errors";
import { readBearerToken } from "../sessions/check-bearer";

/**
 * Admin endpoints take `Authorization: Bearer <ADMIN_API_KEY>`. Both sides are hashed first, so
 * the comparison runs over 32 bytes whatever the lengths, and then compared without an early exit:
 * the response time says nothing about how much of a guess was right. No key configured means the
 * endpoints are off (503), never open.
 */
export const adminAuth = createMiddleware<AppEnv>(async (c, next) => {
  const { adminApiKey, realm } = c.var.config;
  if (adminApiKey === undefined) {
    throw httpError(503, {
      error: ERROR_CODES.notConfigured,
      error_description: "Admin endpoints are disabled: ADMIN_API_KEY is not configured.",
    });
  }
  const header = c.req.header("authorization");
  if (header === undefined) {
    throw httpError(
      401,
      { error: ERROR_CODES.unauthorized, error_description: "The admin API key is required." },
      { "www-authenticate": `Bearer realm="${realm}"` },
    );
  }
  const presented = readBearerToken(header);
  if (!presented.ok || !constantTimeEqual(presented.token, adminApiKey)) {
    throw httpError(
      401,
      { error: ERROR_CODES.invalidToken, error_description: "The admin API key is not valid." },
      { "www-authenticate": `Bearer realm="${realm}", error="invalid_token"` },
    );
  }
  await next();
});

export function constantTimeEqual(a: string, b: string): boolean {
  const x = sha256(utf8ToBytes(a));
  const y = sha256(utf8ToBytes(b));
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return difference === 0;
}
