import { sha256 } from "@noble/hashes/sha2.js";

export type ReadBody = { ok: true; bytes: Uint8Array; digest: Uint8Array } | { ok: false; tooLarge: true };

/**
 * Reads a request body to forward, hashing it as it arrives, and stops reading as soon as it
 * passes `maxBytes`: the signature covers the body's digest, and a header must be sent before the
 * body, so the body is held until its digest is known, but never more than `maxBytes` of it. A
 * `Content-Length` already over the limit is refused without reading a byte.
 */
export async function readBoundedBody(request: Request, maxBytes: number): Promise<ReadBody> {
  const declared = request.headers.get("content-length");
  if (declared !== null && /^[0-9]+$/.test(declared) && Number(declared) > maxBytes)
    return { ok: false, tooLarge: true };
  const hash = sha256.create();
  if (request.body === null) return { ok: true, bytes: new Uint8Array(0), digest: hash.digest() };

  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > maxBytes) {
      await reader.cancel();
      return { ok: false, tooLarge: true };
    }
    hash.update(value);
    chunks.push(value);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, bytes, digest: hash.digest() };
}
