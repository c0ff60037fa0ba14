import { createHash, createHmac, pbkdf2, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const pbkdf2Async = promisify(pbkdf2);

// pg_authid.rolpassword as PostgreSQL stores a SCRAM-SHA-256 secret (RFC 5803):
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, all base64.
const secretFormat = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):[A-Za-z0-9+/=]+$/;

/**
 * Whether `password` is the one behind a role's SCRAM secret: Neon's proxy checks passwords itself
 * against that secret rather than letting Postgres do it. Anything that is not a SCRAM-SHA-256
 * secret (an MD5 hash, plain text) never matches: Neon stores SCRAM secrets only.
 * StoredKey = SHA-256(HMAC-SHA-256(SaltedPassword, "Client Key")), SaltedPassword = PBKDF2 (RFC 5802).
 */
export async function verifyScramPassword(password: string, secret: string): Promise<boolean> {
  const match = secretFormat.exec(secret);
  if (match === null) return false;
  const [, iterations, salt, storedKey] = match as unknown as [string, string, string, string];
  // Asynchronous: PBKDF2 over thousands of iterations must not stall every other request.
  const salted = await pbkdf2Async(saslPrep(password), Buffer.from(salt, "base64"), Number(iterations), 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const computed = createHash("sha256").update(clientKey).digest();
  const expected = Buffer.from(storedKey, "base64");
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/**
 * SASLprep (RFC 4013) as PostgreSQL applies it before hashing (pg_saslprep): ASCII passwords are
 * used as they are; others have non-ASCII spaces mapped to a space, invisible characters removed,
 * then NFKC. PostgreSQL's fallback to the raw bytes for prohibited characters is not copied.
 */
function saslPrep(password: string): string {
  if (!/\P{ASCII}/u.test(password)) return password;
  return (
    password
      .replace(/[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g, " ")
      // An alternation, not a class: some of these combine with the character before them.
      .replace(/\u00ad|\u034f|\u1806|\u180b|\u180c|\u180d|\u200b|\u200c|\u200d|\u2060|[\ufe00-\ufe0f]|\ufeff/gu, "")
      .normalize("NFKC")
  );
}
