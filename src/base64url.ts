/** Bytes or a string as base64url without padding (RFC 4648 §5), and back; `null` for text that is not. */
export function toBase64url(data: Uint8Array | string): string {
  const binary = typeof data === "string" ? data : String.fromCharCode(...data);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text: string): string | null {
  try {
    return atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return null;
  }
}
