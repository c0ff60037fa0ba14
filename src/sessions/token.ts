import { toBase64url } from "../base64url";

/**
 * A new session token: 32 bytes from the platform CSPRNG (256 bits, far beyond the 64 bits of
 * entropy OWASP asks of a session identifier), base64url without padding: 43 characters.
 */
export function generateToken(): string {
  return toBase64url(crypto.getRandomValues(new Uint8Array(32)));
}
