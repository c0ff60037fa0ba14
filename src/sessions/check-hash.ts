import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

/**
 * The stored form of a token: lowercase hex SHA-256 of its UTF-8 bytes, the value the existing
 * application writes (`hashlib.sha256(token.encode()).hexdigest()`).
 */
export function hashToken(token: string): string {
  return bytesToHex(sha256(utf8ToBytes(token)));
}
