import * as z from "zod";
import type { Env } from "./types";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

const positiveInt = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);
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
      .refine((v) => /^postgres(ql)?:\/\//.test(v), "must be a postgres:// or postgresql:// URL"),
    NEON_LOCAL_HTTP: flag,
    IDLE_TIMEOUT_MINUTES: positiveInt(30, 24 * 60),
    ABSOLUTE_TIMEOUT_HOURS: positiveInt(8, 24 * 30),
    MAX_ABSOLUTE_TIMEOUT_HOURS: positiveInt(24, 24 * 365),
    TOUCH_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
    VALIDATION_TIMEOUT_MS: positiveInt(2000, 60_000),
    RETRY_AFTER_SECONDS: positiveInt(5, 3600),
    REALM: z
      .string()
      .regex(/^[\x20-\x7e]*$/, "must be printable ASCII")
      .refine((v) => !/["\\]/.test(v), "must not contain quotes or backslashes")
      .default("session-gate"),
    ADMIN_API_KEY: optionalSecret.refine(
      (v) => v === undefined || v.length >= 32,
      "must be at least 32 characters (e.g. `openssl rand -base64 32`)",
    ),
    ORIGIN_URL: z.url({ protocol: /^https?$/ }).optional(),
    FORWARD_AUTHORIZATION: flag,
    GATEWAY_SIGNING_KEY: optionalSecret.refine(
      (v) => v === undefined || v.length >= 32,
      "must be at least 32 characters",
    ),
    EXPIRY_BATCH_SIZE: positiveInt(5000, 100_000),
    EXPIRY_TIME_BUDGET_MS: positiveInt(20_000, 15 * 60_000),
    SESSION_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).optional(),
  })
  .superRefine((c, ctx) => {
    // The local stand-in speaks plain HTTP: refuse to send credentials that way off this machine.
    if (
      c.NEON_LOCAL_HTTP &&
      !LOOPBACK_HOSTS.has(new URL(c.DATABASE_URL.replace(/^postgres(ql)?:/, "http:")).host.replace(/:\d+$/, ""))
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["NEON_LOCAL_HTTP"],
        message: "is only allowed when DATABASE_URL points at 127.0.0.1, localhost or [::1]",
      });
    }
    if (c.ABSOLUTE_TIMEOUT_HOURS > c.MAX_ABSOLUTE_TIMEOUT_HOURS) {
      ctx.addIssue({
        code: "custom",
        path: ["ABSOLUTE_TIMEOUT_HOURS"],
        message: "must not exceed MAX_ABSOLUTE_TIMEOUT_HOURS",
      });
    }
    if (c.ORIGIN_URL !== undefined && c.GATEWAY_SIGNING_KEY === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["GATEWAY_SIGNING_KEY"],
        message: "is required when ORIGIN_URL is set, so the origin can verify the identity headers",
      });
    }
  });

export type RawConfig = z.output<typeof configSchema>;

export interface Config {
  databaseUrl: string;
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
  originUrl: string | undefined;
  forwardAuthorization: boolean;
  gatewaySigningKey: string | undefined;
  expiryBatchSize: number;
  expiryTimeBudgetMs: number;
  sessionRetentionDays: number | undefined;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses the Worker's variables; a bad value fails with one line per key saying how to fix it. */
export function parseConfig(env: Record<string, unknown>): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join(".") || "config"} ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join("\n  ")}`);
  }
  const c = result.data;
  return {
    databaseUrl: c.DATABASE_URL,
    neonLocalHttp: c.NEON_LOCAL_HTTP,
    idleTimeoutMinutes: c.IDLE_TIMEOUT_MINUTES,
    absoluteTimeoutHours: c.ABSOLUTE_TIMEOUT_HOURS,
    maxAbsoluteTimeoutHours: c.MAX_ABSOLUTE_TIMEOUT_HOURS,
    touchIntervalSeconds: c.TOUCH_INTERVAL_SECONDS,
    validationTimeoutMs: c.VALIDATION_TIMEOUT_MS,
    retryAfterSeconds: c.RETRY_AFTER_SECONDS,
    realm: c.REALM,
    adminApiKey: c.ADMIN_API_KEY,
    originUrl: c.ORIGIN_URL,
    forwardAuthorization: c.FORWARD_AUTHORIZATION,
    gatewaySigningKey: c.GATEWAY_SIGNING_KEY,
    expiryBatchSize: c.EXPIRY_BATCH_SIZE,
    expiryTimeBudgetMs: c.EXPIRY_TIME_BUDGET_MS,
    sessionRetentionDays: c.SESSION_RETENTION_DAYS,
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
