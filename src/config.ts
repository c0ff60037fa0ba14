import * as z from "zod";
import { isB64Token, TOKEN_MAX_LENGTH } from "./auth/bearer";
import { type ConnectionString, parseConnectionString } from "./db/connection-string";
import { secretValues } from "./log";
import type { Env } from "./types";

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
const optionalSecret = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === "" ? undefined : v));

const configSchema = z
  .object({
    DATABASE_URL: z
      .string({
        error: "is required: the PostgreSQL connection string (a Neon URL in production)",
      })
      .transform((v, ctx) => {
        const parsed = parseConnectionString(v);
        if (parsed.ok) return parsed.value;
        ctx.addIssue({ code: "custom", message: parsed.problem });
        return z.NEVER;
      }),
    NEON_LOCAL_HTTP: flag,
    IDLE_TIMEOUT_MINUTES: positiveInt(30, 24 * 60),
    ABSOLUTE_TIMEOUT_HOURS: positiveInt(8, 24 * 30),
    MAX_ABSOLUTE_TIMEOUT_HOURS: positiveInt(24, 24 * 365),
    TOUCH_INTERVAL_SECONDS: wholeNumber(0, 3600).default(60),
    VALIDATION_TIMEOUT_MS: positiveInt(2000, 60_000),
    RETRY_AFTER_SECONDS: positiveInt(5, 3600),
    REALM: z
      .string()
      .regex(/^[\x20-\x7e]*$/, "must be printable ASCII")
      .refine((v) => !/["\\]/.test(v), "must not contain quotes or backslashes")
      .default("session-gate"),
    // The key is presented as a bearer token, so it must be one: a key with a space or a character
    // outside RFC 6750's b64token, or longer than a token may be, could never authenticate.
    ADMIN_API_KEY: optionalSecret
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
    ORIGIN_URL: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v === "") return undefined;
        const origin = parseOriginUrl(v);
        if (typeof origin === "string") {
          ctx.addIssue({ code: "custom", message: origin });
          return z.NEVER;
        }
        return origin;
      }),
    FORWARD_AUTHORIZATION: flag,
    GATEWAY_SIGNING_KEY: optionalSecret.refine(
      (v) => v === undefined || v.length >= 32,
      "must be at least 32 characters",
    ),
    GATEWAY_MAX_BODY_BYTES: positiveInt(1024 * 1024, 100 * 1024 * 1024),
    EXPIRY_BATCH_SIZE: positiveInt(5000, 100_000),
    EXPIRY_TIME_BUDGET_MS: positiveInt(20_000, 15 * 60_000),
    SESSION_RETENTION_DAYS: wholeNumber(1, 36_500).optional(),
  })
  .superRefine(
    (c, ctx) => {
      // Checks across variables run only on variables that are valid by themselves: an invalid one
      // is reported once, for what it is, not again as a consequence.
      const invalid = new Set(ctx.issues.map((issue) => issue.path?.[0]));
      const valid = (...names: (keyof typeof c)[]) => names.every((name) => !invalid.has(name));
      // The local stand-in speaks plain HTTP: refuse to send credentials that way off this machine.
      if (
        valid("NEON_LOCAL_HTTP", "DATABASE_URL") &&
        c.NEON_LOCAL_HTTP &&
        !LOOPBACK_HOSTS.has(c.DATABASE_URL.hostname)
      ) {
        ctx.addIssue({
          code: "custom",
          path: ["NEON_LOCAL_HTTP"],
          message: "is only allowed when DATABASE_URL points at 127.0.0.1, localhost or [::1]",
        });
      }
      if (
        valid("ABSOLUTE_TIMEOUT_HOURS", "MAX_ABSOLUTE_TIMEOUT_HOURS") &&
        c.ABSOLUTE_TIMEOUT_HOURS > c.MAX_ABSOLUTE_TIMEOUT_HOURS
      ) {
        ctx.addIssue({
          code: "custom",
          path: ["ABSOLUTE_TIMEOUT_HOURS"],
          message: "must not exceed MAX_ABSOLUTE_TIMEOUT_HOURS",
        });
      }
      // A session is touched at most once per interval, so one used every (idle - interval) seconds
      // can be idle-ended while in use: at or above the idle timeout that is every session. At most
      // half keeps any user active at least every half idle timeout logged in.
      if (
        valid("TOUCH_INTERVAL_SECONDS", "IDLE_TIMEOUT_MINUTES") &&
        c.TOUCH_INTERVAL_SECONDS * 2 > c.IDLE_TIMEOUT_MINUTES * 60
      ) {
        ctx.addIssue({
          code: "custom",
          path: ["TOUCH_INTERVAL_SECONDS"],
          message: `must be at most half of IDLE_TIMEOUT_MINUTES in seconds (${c.IDLE_TIMEOUT_MINUTES * 30}): a longer interval ends sessions that are in use`,
        });
      }
      if (valid("GATEWAY_SIGNING_KEY") && c.ORIGIN_URL !== undefined && c.GATEWAY_SIGNING_KEY === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["GATEWAY_SIGNING_KEY"],
          message: "is required when ORIGIN_URL is set, so the origin can verify the identity headers",
        });
      }
    },
    // Also after a variable failed on its own, so that every other problem is still reported.
    { when: () => true },
  );

export type RawConfig = z.output<typeof configSchema>;

/** Where gateway mode forwards to: `origin` (scheme, host, port) and a base path joined before every path. */
export interface OriginTarget {
  /** e.g. "https://app.internal:8443" */
  origin: string;
  /** ORIGIN_URL's path without its trailing slash: "" or e.g. "/base". */
  basePath: string;
}

/**
 * ORIGIN_URL must be an http(s) URL the gateway can join a path onto: no credentials (they would
 * travel in every forwarded request and in any log of the URL), no query or fragment (there is no
 * sound way to merge them with the client's).
 */
function parseOriginUrl(text: string): OriginTarget | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be an absolute http:// or https:// URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "must be an http:// or https:// URL";
  if (url.username !== "" || url.password !== "") return "must not contain a user or password";
  if (url.search !== "" || url.hash !== "" || text.includes("?") || text.includes("#")) {
    return "must not have a query or fragment: requests are forwarded to ORIGIN_URL's path plus theirs";
  }
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, "") };
}

export interface Config {
  databaseUrl: string;
  database: ConnectionString;
  /** Point the driver at a local Neon stand-in (`http://<DATABASE_URL host>/sql`): development only. */
  neonLocalHttp: boolean;
  idleTimeoutMinutes: number;
  absoluteTimeoutHours: number;
  maxAbsoluteTimeoutHours: number;
  touchIntervalSeconds: number;
  validationTimeoutMs: number;
  retryAfterSeconds: number;
  realm: string;
  adminApiKey: string | undefined;
  origin: OriginTarget | undefined;
  forwardAuthorization: boolean;
  gatewaySigningKey: string | undefined;
  /** The largest request body gateway mode buffers to sign (its digest is in the signature). */
  gatewayMaxBodyBytes: number;
  expiryBatchSize: number;
  expiryTimeBudgetMs: number;
  sessionRetentionDays: number | undefined;
  /** Every secret value of this configuration, for `redact` before anything is logged. */
  secrets: readonly string[];
}

/** A configuration that cannot work: one problem per key, each naming the key, never its value. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

/** Parses the Worker's variables; a bad value fails with one line per key saying how to fix it. */
export function parseConfig(env: Record<string, unknown>): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".") || "config"} ${i.message}`));
  }
  const c = result.data;
  return {
    databaseUrl: c.DATABASE_URL.url,
    database: c.DATABASE_URL,
    neonLocalHttp: c.NEON_LOCAL_HTTP,
    idleTimeoutMinutes: c.IDLE_TIMEOUT_MINUTES,
    absoluteTimeoutHours: c.ABSOLUTE_TIMEOUT_HOURS,
    maxAbsoluteTimeoutHours: c.MAX_ABSOLUTE_TIMEOUT_HOURS,
    touchIntervalSeconds: c.TOUCH_INTERVAL_SECONDS,
    validationTimeoutMs: c.VALIDATION_TIMEOUT_MS,
    retryAfterSeconds: c.RETRY_AFTER_SECONDS,
    realm: c.REALM,
    adminApiKey: c.ADMIN_API_KEY,
    origin: c.ORIGIN_URL,
    forwardAuthorization: c.FORWARD_AUTHORIZATION,
    gatewaySigningKey: c.GATEWAY_SIGNING_KEY,
    gatewayMaxBodyBytes: c.GATEWAY_MAX_BODY_BYTES,
    expiryBatchSize: c.EXPIRY_BATCH_SIZE,
    expiryTimeBudgetMs: c.EXPIRY_TIME_BUDGET_MS,
    sessionRetentionDays: c.SESSION_RETENTION_DAYS,
    secrets: secretValues(env),
  };
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
