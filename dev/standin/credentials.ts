import { createHash, timingSafeEqual } from "node:crypto";
import { proxyError } from "./neon-error";
import { verifyScramPassword } from "./scram";

/**
 * How long a verified password is taken as verified without reading pg_authid again: a request of
 * a verified role then costs neither a query nor a PBKDF2. A changed or removed password takes
 * effect after this long (Neon's proxy caches role secrets too, for longer).
 */
const verifiedForMs = 5_000;

export interface CredentialCheckOptions {
  /** The backend's own role: its password is the stand-in's per-run secret, not its Postgres one. */
  adminUser: string;
  secret: string;
  /** pg_authid.rolpassword, or null for a role without a password or no such role. */
  readPasswordSecret(user: string): Promise<string | null>;
  /** Told of every check that reads pg_authid, so the stats can show the cache working. */
  onLookup?(): void;
}

/**
 * Checks a connection string's user and password as Neon's proxy does before it connects: a
 * wrong password, a role without one and an unknown role all get the same 400, so the answer
 * never tells whether the role exists.
 */
export function createCredentialCheck(
  options: CredentialCheckOptions,
): (user: string, password: string) => Promise<void> {
  const secret = digest(options.secret);
  const verified = new Map<string, { password: Buffer; until: number }>();

  return async (user, password) => {
    const given = digest(password);
    // Digests of equal length, compared in constant time: neither length nor content leaks.
    if (user === options.adminUser) {
      if (timingSafeEqual(given, secret)) return;
      throw passwordFailed(user);
    }
    const cached = verified.get(user);
    if (cached !== undefined && cached.until > Date.now() && timingSafeEqual(given, cached.password)) return;
    options.onLookup?.();
    const roleSecret = await options.readPasswordSecret(user);
    if (roleSecret === null || !(await verifyScramPassword(password, roleSecret))) throw passwordFailed(user);
    verified.set(user, { password: given, until: Date.now() + verifiedForMs });
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

function passwordFailed(user: string) {
  return proxyError(400, `password authentication failed for user '${user}'`);
}
