/** A `DATABASE_URL` taken apart the way the Neon driver reads it. */
export interface ConnectionString {
  /** The URL as given: it goes to the driver unchanged. */
  url: string;
  hostname: string;
  /** The port as written, "" when absent. */
  port: string;
  user: string;
  /** Percent-decoded, "" when absent. Only ever compared or redacted, never logged. */
  password: string;
  database: string;
}

export type ParsedConnectionString = { ok: true; value: ConnectionString } | { ok: false; problem: string };

/**
 * Parses a connection string exactly as `@neondatabase/serverless` 1.2 does before every query
 * (`new URL("http:" + rest)`, then user, host and database required), so that a string the driver
 * would refuse at request time is refused at configuration time instead. The driver's own error
 * quotes the whole string, password included; the problems here never quote any part of it.
 */
export function parseConnectionString(text: string): ParsedConnectionString {
  const scheme = /^(postgres|postgresql):\/\//i.exec(text);
  if (scheme === null) return { ok: false, problem: "must be a postgres:// or postgresql:// URL" };
  let url: URL;
  try {
    url = new URL(`http:${text.slice((scheme[1]?.length ?? 0) + 1)}`);
  } catch {
    return {
      ok: false,
      problem:
        "is not a URL the Neon driver can parse (percent-encode reserved characters in the user and password, e.g. / as %2F and @ as %40; the port must be 1-65535)",
    };
  }
  if (url.username === "") return { ok: false, problem: "must name a user (postgres://USER:PASSWORD@HOST/DATABASE)" };
  if (url.hostname === "" || url.hostname === "-") return { ok: false, problem: "must name a host" };
  if (url.port === "0") return { ok: false, problem: "must not use port 0" };
  const database = url.pathname.slice(1);
  if (database === "" || database.includes("/")) {
    return { ok: false, problem: "must name exactly one database as its path (postgres://USER@HOST/DATABASE)" };
  }
  let password: string;
  try {
    password = decodeURIComponent(url.password);
  } catch {
    return { ok: false, problem: "has a password that is not valid percent-encoding" };
  }
  return {
    ok: true,
    value: { url: text, hostname: url.hostname, port: url.port, user: url.username, password, database },
  };
}
