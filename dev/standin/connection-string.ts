import { proxyError } from "./neon-error";

/** What a request's `Neon-Connection-String` names. */
export interface ConnectionInfo {
  user: string;
  password: string;
  database: string;
  /** Counted in the stand-in's stats; Neon reads it and ignores it (only user and database reach Postgres). */
  applicationName: string | null;
}

/**
 * Reads `Neon-Connection-String` with the checks, the order and the messages of Neon's proxy
 * (proxy/src/serverless/http_util.rs, `get_conn_info`), each a 400 with code "". One check of
 * Neon's is left out: `missing hostname` for an IP address or no host, since a stand-in on this
 * machine is reached as 127.0.0.1 or localhost. Query parameters (`options=-c statement_timeout=…`,
 * `sslmode`) are ignored, as on Neon.
 */
export function parseConnectionString(header: string | string[] | undefined, authorization: unknown): ConnectionInfo {
  // HeaderValue::to_str: tab and the visible ASCII characters, space included.
  if (typeof header !== "string" || !/^[\t\x20-\x7e]*$/.test(header)) {
    throw refused("invalid header: neon-connection-string");
  }
  let url: URL;
  try {
    url = new URL(header);
  } catch {
    throw refused(`invalid connection string: ${describeUrlError(header)}`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") throw refused("incorrect scheme");
  // `postgres://u:p@host` has no path and no database; `postgres://u:p@host/` names the database "".
  if (!url.pathname.startsWith("/")) throw refused("missing database name");
  const database = decode(url.pathname.slice(1).split("/")[0] ?? "");
  const user = decode(url.username);
  if (user === "") throw refused("missing username");
  // The `api.` proxy takes passwords only; a bearer token (JWT auth) goes to `apiauth.`.
  if (authorization !== undefined) throw refused("missing authentication credentials: required password");
  const password = decode(url.password);
  if (password === "") throw refused("missing authentication credentials: required password");
  return { user, password, database, applicationName: url.searchParams.get("application_name") };
}

function refused(message: string) {
  return proxyError(400, message);
}

/**
 * Percent-decoding as Rust's percent_decode_str: a `%` not followed by two hex digits stays as
 * it is, `+` stays `+`; bytes that are not UTF-8 are refused (Neon says "invalid username" for
 * the user and the database alike).
 */
function decode(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i += 1) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === "%" && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(text[i] ?? "", "utf8"));
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    throw refused("invalid username: invalid utf-8 sequence");
  }
}

/**
 * Node says only "Invalid URL"; Neon gives rust-url's reason. The common ones, recognised from
 * the text: no scheme, an empty host, a bad port, a bad IPv6 address, a forbidden host character.
 */
function describeUrlError(text: string): string {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text)) return "relative URL without a base";
  const authority = /^[^:]*:\/\/([^/?#]*)/.exec(text)?.[1] ?? "";
  const hostAndPort = authority.slice(authority.lastIndexOf("@") + 1);
  if (hostAndPort === "") return "empty host";
  if (hostAndPort.startsWith("[") && !/^\[[0-9A-Fa-f:.]+\](:|$)/.test(hostAndPort)) return "invalid IPv6 address";
  const port = /:([^\]:]*)$/.exec(hostAndPort)?.[1];
  if (port !== undefined && port !== "" && !(/^\d+$/.test(port) && Number(port) <= 65535)) {
    return "invalid port number";
  }
  return "invalid domain character";
}
