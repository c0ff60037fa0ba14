import * as z from "zod";
import { type AssertionKey, parseAssertionJwk } from "./assertion/jwk";
import { type ConnectionString, parseConnectionString } from "./db/connection-string";
import { type OriginTarget, parseOriginUrl } from "./gateway/origin-url";
import { parseAllowedHosts, parseLoginUrl } from "./http/login-redirect";
import { isB64Token, TOKEN_MAX_LENGTH } from "./sessions/check-bearer";

/*
 * The Worker's configuration, defined once: each variable below is its parser, its default, its
 * documentation and (through the types and lists derived at the end of this file) its place in
 * `Env`, in `Config` (camelCased: IDLE_TIMEOUT_MINUTES is `config.idleTimeoutMinutes`) and in the
 * list of variables `npm run dev` passes to the Worker. Adding a variable is one entry here.
 */

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** A whole number in digits ("0x10", "1e3" and " 5" are refused, not read as 16, 1000 and 5). */
const wholeNumber = (min: number, max: number) =>
  z
    .union([z.number(), z.string().regex(/^[0-9]{1,10}$/, "must be a whole number written in digits")])
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const positiveInt = (fallback: number, max: number) => wholeNumber(1, max).default(fallback);
const flag = z
  .enum(["true", "false", "1", "0", ""])
  .default("false")
  .transform((v) => v === "true" || v === "1");
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === "" ? undefined : v));
/** A value parsed by `parse`, which returns the problem (never quoting the value) or the result. */
const parsedWith =
  <T>(parse: (text: string) => { ok: true; value: T } | { ok: false; problem: string }) =>
  (v: string, ctx: z.RefinementCtx) => {
    const result = parse(v);
    if (result.ok) return result.value;
    ctx.addIssue({ code: "custom", message: result.problem });
    return z.NEVER;
  };

// RFC 9110 §5.1 field-name (a token), and the headers identity must never be carried in.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const RESERVED_HEADERS = new Set([
  "authorization",
  "cookie",
  "set-cookie",
  "host",
  "connection",
  "content-length",
  "content-type",
  "content-digest",
  "transfer-encoding",
  "x-session-signature",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-uri",
]);
/** A header name this service sets, lowercased; never one that carries something else. */
const headerName = (fallback: string) =>
  z
    .string()
    .regex(HEADER_NAME, "must be a header name (letters, digits and !#$%&'*+-.^_`|~)")
    .transform((v) => v.toLowerCase())
    .refine((v) => !RESERVED_HEADERS.has(v), "must not be a header that carries something else")
    .default(fallback.toLowerCase());
// RFC 6265 cookie-name: a token.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** `secret: true`: never logged, never shown; `wrangler secret put NAME` in production. */
type VariableMeta = { description: string; secret?: true };
const variable = <S extends z.ZodType>(schema: S, meta: VariableMeta) => schema.meta(meta);

const VARIABLES = {
  DATABASE_URL: variable(
    z
      .string({ error: "is required: the PostgreSQL connection string (a Neon URL in production)" })
      .transform(parsedWith<ConnectionString>(parseConnectionString)),
    {
      description:
        "PostgreSQL connection string: a Neon URL in production. Parsed as the Neon driver parses it: user, host and database required; percent-encode `/`, `@` and `:` in the password",
      secret: true,
    },
  ),
  NEON_LOCAL_HTTP: variable(flag, {
    description: "development only: send SQL over plain HTTP to the stand-in at `DATABASE_URL`'s host (loopback only)",
  }),
  IDLE_TIMEOUT_MINUTES: variable(positiveInt(30, 24 * 60), { description: "idle timeout (NIST SP 800-63B)" }),
  ABSOLUTE_TIMEOUT_HOURS: variable(positiveInt(8, 24 * 30), {
    description: "absolute lifetime of sessions issued here",
  }),
  MAX_ABSOLUTE_TIMEOUT_HOURS: variable(positiveInt(24, 24 * 365), {
    description: "upper bound for a request's `absolute_timeout_hours`",
  }),
  TOUCH_INTERVAL_SECONDS: variable(wholeNumber(0, 3600).default(60), {
    description:
      "`last_activity_at` moves at most once per interval (0 = every check); at most half the idle timeout, so a session in use is never idle-ended",
  }),
  VALID_CACHE_SECONDS: variable(wholeNumber(0, 300).default(0), {
    description:
      "opt-in: remember a valid answer in the isolate this long (at most the touch interval and the session's own limits); a session ended elsewhere can pass until then (0 = off)",
  }),
  VALIDATION_TIMEOUT_MS: variable(positiveInt(2000, 60_000), {
    description: "deadline for the database per request; past it → 503",
  }),
  RETRY_AFTER_SECONDS: variable(positiveInt(5, 3600), { description: "the `Retry-After` of a 503" }),
  REALM: variable(
    z
      .string()
      .regex(/^[\x20-\x7e]*$/, "must be printable ASCII")
      .refine((v) => !/["\\]/.test(v), "must not contain quotes or backslashes")
      .default("session-gate"),
    { description: "realm of the `WWW-Authenticate` challenges" },
  ),
  // The key is presented as a bearer token, so it must be one: a key with a space or a character
  // outside RFC 6750's b64token, or longer than a token may be, could never authenticate.
  ADMIN_API_KEY: variable(
    optionalString
      .refine(
        (v) => v === undefined || v.length >= 32,
        "must be at least 32 characters (e.g. `openssl rand -base64 32`)",
      )
      .refine(
        (v) => v === undefined || v.length <= TOKEN_MAX_LENGTH,
        `must be at most ${TOKEN_MAX_LENGTH} characters, the longest bearer token accepted`,
      )
      .refine(
        (v) => v === undefined || isB64Token(v),
        "may hold only letters, digits and - . _ ~ + / (then = padding), as a bearer token must",
      ),
    {
      description:
        "enables the admin routes; 32 to 512 characters of RFC 6750's b64token (letters, digits, `-._~+/`, then `=`): it is sent as a bearer token",
      secret: true,
    },
  ),
  ORIGIN_URL: variable(
    optionalString.transform((v, ctx) =>
      v === undefined ? undefined : parsedWith<OriginTarget>(parseOriginUrl)(v, ctx),
    ),
    {
      description:
        "turns gateway mode on: the origin to forward valid requests to, `http(s)://host[:port][/base/path]`, no credentials, query or fragment",
    },
  ),
  FORWARD_AUTHORIZATION: variable(flag, {
    description: "keep the client's credentials (`Authorization`, the session cookie) when forwarding",
  }),
  GATEWAY_SIGNING_KEY: variable(
    optionalString.refine((v) => v === undefined || v.length >= 32, "must be at least 32 characters"),
    { description: "required with `ORIGIN_URL`: 32+ characters, the key of `X-Session-Signature`", secret: true },
  ),
  GATEWAY_MAX_BODY_BYTES: variable(positiveInt(1024 * 1024, 100 * 1024 * 1024), {
    description: "the largest request body gateway mode forwards (it is read to be signed); larger → 413",
  }),
  SESSION_COOKIE_NAME: variable(
    optionalString.refine((v) => v === undefined || COOKIE_NAME.test(v), "must be a cookie name (a token)"),
    {
      description:
        "read the token from this cookie when a request has no `Authorization` header (unset: cookies are not read)",
    },
  ),
  LOGIN_URL: variable(
    optionalString.transform((v, ctx) => (v === undefined ? undefined : parsedWith<URL>(parseLoginUrl)(v, ctx))),
    {
      description:
        "send browser navigations without a valid session there (302, with `rd` the original URL) instead of a 401 (unset: no redirects)",
    },
  ),
  REDIRECT_ALLOWED_HOSTS: variable(
    optionalString.transform((v, ctx) => (v === undefined ? [] : parsedWith<string[]>(parseAllowedHosts)(v, ctx))),
    {
      description:
        "comma-separated hosts (`app.example.com`, `app.example.com:8443`) an `rd` may name; any other original URL is left out of the redirect",
    },
  ),
  SESSION_ID_HEADER: variable(headerName("X-Session-Id"), { description: "the identity header with the session's id" }),
  USER_ID_HEADER: variable(headerName("X-User-Id"), {
    description: "the identity header with the user's id (e.g. `Remote-User`)",
  }),
  TENANT_ID_HEADER: variable(headerName("X-Tenant-Id"), {
    description: "the identity header with the tenant's id (empty without a tenant)",
  }),
  APP_TYPE_HEADER: variable(headerName("X-App-Type"), { description: "the identity header with the app type" }),
  ASSERTION_SIGNING_KEY: variable(
    optionalString.transform((v, ctx) =>
      v === undefined
        ? undefined
        : parsedWith<AssertionKey>((text) => parseAssertionJwk(text, { requirePrivate: true }))(v, ctx),
    ),
    {
      description:
        "a private JWK (Ed25519 or P-256): every 200 of `/v1/validate` and every forwarded request carries a signed JWT of the identity (unset: none)",
      secret: true,
    },
  ),
  ASSERTION_PREVIOUS_KEY: variable(
    optionalString.transform((v, ctx) =>
      v === undefined
        ? undefined
        : parsedWith<AssertionKey>((text) => parseAssertionJwk(text, { requirePrivate: false }))(v, ctx),
    ),
    {
      description:
        "during a key rotation, the previous key (private or public JWK): `/.well-known/jwks.json` keeps publishing it",
      secret: true,
    },
  ),
  ASSERTION_ISSUER: variable(z.string().min(1).default("session-gate"), { description: "the assertion's `iss`" }),
  ASSERTION_AUDIENCE: variable(optionalString, {
    description: "the assertion's `aud`: required with `ASSERTION_SIGNING_KEY`",
  }),
  ASSERTION_TTL_SECONDS: variable(positiveInt(60, 60), {
    description: "the assertion's lifetime (`exp` - `iat`), at most 60",
  }),
  ASSERTION_HEADER: variable(headerName("X-Session-Assertion"), {
    description: "the header that carries the assertion",
  }),
  EXPIRY_BATCH_SIZE: variable(positiveInt(5000, 100_000), {
    description: "rows ended per statement by the expiry job",
  }),
  EXPIRY_TIME_BUDGET_MS: variable(positiveInt(20_000, 15 * 60_000), {
    description: "the expiry job starts no new batch after this",
  }),
  EXPIRY_STATEMENT_TIMEOUT_MS: variable(positiveInt(10_000, 15 * 60_000), {
    description:
      "the database cancels an expiry batch that runs longer (its `statement_timeout`); the run reports it and the next one carries on",
  }),
  SESSION_RETENTION_DAYS: variable(wholeNumber(1, 36_500).optional(), {
    description: "when set, the expiry job deletes ended rows whose `ended_at` is older",
  }),
};

type Variables = typeof VARIABLES;
export type VariableName = keyof Variables;

// Checks across variables. Each runs only on variables that are valid by themselves: an invalid
// one is reported once, for what it is, not again as a consequence.
const configSchema = z.object(VARIABLES).superRefine(
  (c, ctx) => {
    const invalid = new Set(ctx.issues.map((issue) => issue.path?.[0]));
    const valid = (...names: VariableName[]) => names.every((name) => !invalid.has(name));
    const problem = (name: VariableName, message: string) => ctx.addIssue({ code: "custom", path: [name], message });
    // The local stand-in speaks plain HTTP: refuse to send credentials that way off this machine.
    if (valid("NEON_LOCAL_HTTP", "DATABASE_URL") && c.NEON_LOCAL_HTTP && !LOOPBACK_HOSTS.has(c.DATABASE_URL.hostname)) {
      problem("NEON_LOCAL_HTTP", "is only allowed when DATABASE_URL points at 127.0.0.1, localhost or [::1]");
    }
    if (
      valid("ABSOLUTE_TIMEOUT_HOURS", "MAX_ABSOLUTE_TIMEOUT_HOURS") &&
      c.ABSOLUTE_TIMEOUT_HOURS > c.MAX_ABSOLUTE_TIMEOUT_HOURS
    ) {
      problem("ABSOLUTE_TIMEOUT_HOURS", "must not exceed MAX_ABSOLUTE_TIMEOUT_HOURS");
    }
    // A session is touched at most once per interval, so one used every (idle - interval) seconds
    // can be idle-ended while in use: at or above the idle timeout that is every session. At most
    // half keeps any user active at least every half idle timeout logged in.
    if (
      valid("TOUCH_INTERVAL_SECONDS", "IDLE_TIMEOUT_MINUTES") &&
      c.TOUCH_INTERVAL_SECONDS * 2 > c.IDLE_TIMEOUT_MINUTES * 60
    ) {
      problem(
        "TOUCH_INTERVAL_SECONDS",
        `must be at most half of IDLE_TIMEOUT_MINUTES in seconds (${c.IDLE_TIMEOUT_MINUTES * 30}): a longer interval ends sessions that are in use`,
      );
    }
    if (valid("GATEWAY_SIGNING_KEY") && c.ORIGIN_URL !== undefined && c.GATEWAY_SIGNING_KEY === undefined) {
      problem(
        "GATEWAY_SIGNING_KEY",
        "is required when ORIGIN_URL is set, so the origin can verify the identity headers",
      );
    }
    if (valid("ASSERTION_AUDIENCE") && c.ASSERTION_SIGNING_KEY !== undefined && c.ASSERTION_AUDIENCE === undefined) {
      problem(
        "ASSERTION_AUDIENCE",
        "is required when ASSERTION_SIGNING_KEY is set: the origin checks the assertion is for it",
      );
    }
    const headers = [
      "SESSION_ID_HEADER",
      "USER_ID_HEADER",
      "TENANT_ID_HEADER",
      "APP_TYPE_HEADER",
      "ASSERTION_HEADER",
    ] as const;
    if (valid(...headers) && new Set(headers.map((name) => c[name])).size < headers.length) {
      problem(
        "SESSION_ID_HEADER",
        "and USER_ID_HEADER, TENANT_ID_HEADER, APP_TYPE_HEADER and ASSERTION_HEADER must be five different headers",
      );
    }
  },
  // Also after a variable failed on its own, so that every other problem is still reported.
  { when: () => true },
);

/** IDLE_TIMEOUT_MINUTES -> idleTimeoutMinutes, at the type level and at run time. */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<CamelCase<Tail>>}`
  : Lowercase<S>;
const camelCase = (name: string) => name.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The parsed configuration: every variable under its camelCase name, with its parsed type. */
export type Config = { readonly [K in VariableName as CamelCase<K>]: z.output<Variables[K]> } & {
  /** Every secret value of this configuration, for `redact` before anything is logged. */
  readonly secrets: readonly string[];
};

/** The variables that may be absent (they have a default or are optional); distributes over a union. */
type Optional<K extends VariableName> = K extends VariableName
  ? undefined extends z.input<Variables[K]>
    ? K
    : never
  : never;
/** The Worker's bindings as wrangler.toml, .dev.vars and secrets give them: strings, all optional but DATABASE_URL. */
export type Env = { [K in Exclude<VariableName, Optional<VariableName>>]: string } & {
  [K in Optional<VariableName>]?: string;
};

/** Every variable the Worker reads, for the tools that start or configure it (`npm run dev`). */
export const WORKER_VARIABLES = Object.keys(VARIABLES) as VariableName[];

/** Each variable's documentation, and whether its value is a secret. */
export const VARIABLE_DOCS = Object.fromEntries(
  Object.entries(VARIABLES).map(([name, schema]) => [name, schema.meta() as VariableMeta]),
) as Record<VariableName, VariableMeta>;

/** Each variable's value when it is not set: its default, `undefined` when optional, or "required". */
export const VARIABLE_DEFAULTS = Object.fromEntries(
  Object.entries(VARIABLES).map(([name, schema]) => {
    const parsed = schema.safeParse(undefined);
    return [name, parsed.success ? parsed.data : "required"];
  }),
) as Record<VariableName, unknown>;

const SECRET_VARIABLES = WORKER_VARIABLES.filter((name) => VARIABLE_DOCS[name].secret);

/**
 * The secret values in a Worker's raw environment: each secret variable, and the database
 * password alone, raw and percent-encoded. Read from the raw strings so that it works for an
 * environment that does not even parse. Longest first, so a secret that contains another is
 * removed whole.
 */
export function secretValues(env: Record<string, unknown>): string[] {
  const values: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const value = env[name];
    if (typeof value === "string" && value !== "") values.push(value);
  }
  const databaseUrl = env.DATABASE_URL;
  if (typeof databaseUrl === "string") {
    const parsed = parseConnectionString(databaseUrl);
    if (parsed.ok && parsed.value.password !== "") {
      values.push(parsed.value.password, encodeURIComponent(parsed.value.password));
    }
  }
  return values.sort((a, b) => b.length - a.length);
}

/** A configuration that cannot work: one problem per variable, each naming it, never its value. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

/** Parses the Worker's variables; a bad value fails with one line per variable saying how to fix it. */
export function parseConfig(env: Record<string, unknown>): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".") || "config"} ${i.message}`));
  }
  const config = Object.fromEntries(Object.entries(result.data).map(([name, value]) => [camelCase(name), value]));
  return { ...config, secrets: secretValues(env) } as unknown as Config;
}

// `env` is one object per isolate, so each is parsed once and the result reused on every request.
const parsed = new WeakMap<object, Config>();

export function getConfig(env: Env): Config {
  let config = parsed.get(env);
  if (config === undefined) {
    config = parseConfig(env as unknown as Record<string, unknown>);
    parsed.set(env, config);
  }
  return config;
}
