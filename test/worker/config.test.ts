import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseConnectionString } from "../../src/db/connection-string";
import { logEvent, redact } from "../../src/log";
import { createUser, insertSession, readSession } from "../helpers/db";
import { captureLogs, events } from "../helpers/logs";
import { bearer, callWorker, faultyDatabases } from "../helpers/worker";
import { TEST_SECRETS } from "../secrets";

/*
 * Configurations that can never work are refused where they are read: every request answers
 * 503 `not_configured`, the log says once per problem which variable is wrong and how, and no
 * secret value appears in a log line, the body or a header. Each variable, each kind of bad value.
 */

// Distinctive secret values, to search every output for.
const PASSWORD = TEST_SECRETS.configPassword;
const ADMIN_KEY = TEST_SECRETS.configAdminApiKey;
const GATEWAY_KEY = TEST_SECRETS.configGatewaySigningKey;
const SECRETS = [PASSWORD, ADMIN_KEY, GATEWAY_KEY];

const ORIGIN = { ORIGIN_URL: "http://origin.example", GATEWAY_SIGNING_KEY: GATEWAY_KEY };

type Case = [name: string, overrides: Record<string, string | undefined>, problems: string[]];

const broken: Case[] = [
  ["no DATABASE_URL", { DATABASE_URL: undefined }, ["DATABASE_URL is required"]],
  [
    "another scheme",
    { DATABASE_URL: `mysql://app:${PASSWORD}@db.example/app` },
    ["DATABASE_URL must be a postgres://"],
  ],
  [
    "a / in the password",
    { DATABASE_URL: `postgres://app:${PASSWORD}/x@db.example/app` },
    ["DATABASE_URL is not a URL the Neon driver can parse"],
  ],
  [
    "port 99999",
    { DATABASE_URL: `postgres://app:${PASSWORD}@db.example:99999/app` },
    ["DATABASE_URL is not a URL the Neon driver can parse"],
  ],
  ["port 0", { DATABASE_URL: `postgres://app:${PASSWORD}@db.example:0/app` }, ["DATABASE_URL must not use port 0"]],
  ["no user", { DATABASE_URL: "postgres://db.example/app" }, ["DATABASE_URL must name a user"]],
  [
    "no database",
    { DATABASE_URL: `postgres://app:${PASSWORD}@db.example` },
    ["DATABASE_URL must name exactly one database"],
  ],
  [
    "an unparsable URL with NEON_LOCAL_HTTP",
    { DATABASE_URL: `postgres://app:${PASSWORD}/x@127.0.0.1/app`, NEON_LOCAL_HTTP: "true" },
    ["DATABASE_URL is not a URL the Neon driver can parse"],
  ],
  [
    "NEON_LOCAL_HTTP with a remote host",
    { DATABASE_URL: `postgres://app:${PASSWORD}@db.example/app`, NEON_LOCAL_HTTP: "true" },
    ["NEON_LOCAL_HTTP is only allowed when DATABASE_URL points at 127.0.0.1"],
  ],
  ["NEON_LOCAL_HTTP=yes", { NEON_LOCAL_HTTP: "yes" }, ["NEON_LOCAL_HTTP"]],
  ["IDLE_TIMEOUT_MINUTES=0", { IDLE_TIMEOUT_MINUTES: "0" }, ["IDLE_TIMEOUT_MINUTES"]],
  ["IDLE_TIMEOUT_MINUTES in hex", { IDLE_TIMEOUT_MINUTES: "0x1e" }, ["IDLE_TIMEOUT_MINUTES must be a whole number"]],
  [
    "IDLE_TIMEOUT_MINUTES with an exponent",
    { IDLE_TIMEOUT_MINUTES: "3e1" },
    ["IDLE_TIMEOUT_MINUTES must be a whole number"],
  ],
  ["IDLE_TIMEOUT_MINUTES over a day", { IDLE_TIMEOUT_MINUTES: "1441" }, ["IDLE_TIMEOUT_MINUTES"]],
  [
    "ABSOLUTE_TIMEOUT_HOURS above the maximum",
    { ABSOLUTE_TIMEOUT_HOURS: "25" },
    ["ABSOLUTE_TIMEOUT_HOURS must not exceed MAX_ABSOLUTE_TIMEOUT_HOURS"],
  ],
  ["MAX_ABSOLUTE_TIMEOUT_HOURS=0", { MAX_ABSOLUTE_TIMEOUT_HOURS: "0" }, ["MAX_ABSOLUTE_TIMEOUT_HOURS"]],
  [
    "a touch interval at the idle timeout (1 min idle, 60 s touch)",
    { IDLE_TIMEOUT_MINUTES: "1" },
    ["TOUCH_INTERVAL_SECONDS must be at most half of IDLE_TIMEOUT_MINUTES in seconds (30)"],
  ],
  [
    "a touch interval one second over half",
    { TOUCH_INTERVAL_SECONDS: "901" },
    ["TOUCH_INTERVAL_SECONDS must be at most half"],
  ],
  ["TOUCH_INTERVAL_SECONDS=-1", { TOUCH_INTERVAL_SECONDS: "-1" }, ["TOUCH_INTERVAL_SECONDS"]],
  ["VALIDATION_TIMEOUT_MS=0", { VALIDATION_TIMEOUT_MS: "0" }, ["VALIDATION_TIMEOUT_MS"]],
  ["VALIDATION_TIMEOUT_MS over a minute", { VALIDATION_TIMEOUT_MS: "60001" }, ["VALIDATION_TIMEOUT_MS"]],
  ["RETRY_AFTER_SECONDS=0", { RETRY_AFTER_SECONDS: "0" }, ["RETRY_AFTER_SECONDS"]],
  ["a quote in REALM", { REALM: 'a"b' }, ["REALM must not contain quotes"]],
  ["non-ASCII REALM", { REALM: "réalm" }, ["REALM must be printable ASCII"]],
  ["a short ADMIN_API_KEY", { ADMIN_API_KEY: "admin-Secret-short" }, ["ADMIN_API_KEY must be at least 32 characters"]],
  ["an ADMIN_API_KEY with spaces", { ADMIN_API_KEY: `${ADMIN_KEY} with spaces` }, ["ADMIN_API_KEY may hold only"]],
  ["an ADMIN_API_KEY with !", { ADMIN_API_KEY: `${ADMIN_KEY}!` }, ["ADMIN_API_KEY may hold only"]],
  [
    "an ADMIN_API_KEY longer than a token",
    { ADMIN_API_KEY: ADMIN_KEY + "x".repeat(500) },
    ["ADMIN_API_KEY must be at most 512"],
  ],
  [
    "ORIGIN_URL with ftp",
    { ...ORIGIN, ORIGIN_URL: "ftp://origin.example/" },
    ["ORIGIN_URL must be an http:// or https:// URL"],
  ],
  ["ORIGIN_URL not a URL", { ...ORIGIN, ORIGIN_URL: "origin.example" }, ["ORIGIN_URL must be an absolute"]],
  [
    "ORIGIN_URL with credentials",
    { ...ORIGIN, ORIGIN_URL: `http://app:${PASSWORD}@origin.example/` },
    ["ORIGIN_URL must not contain a user or password"],
  ],
  [
    "ORIGIN_URL with a query",
    { ...ORIGIN, ORIGIN_URL: "http://origin.example/?tenant=1" },
    ["ORIGIN_URL must not have a query or fragment"],
  ],
  [
    "ORIGIN_URL with a fragment",
    { ...ORIGIN, ORIGIN_URL: "http://origin.example/#x" },
    ["ORIGIN_URL must not have a query or fragment"],
  ],
  [
    "ORIGIN_URL without GATEWAY_SIGNING_KEY",
    { ORIGIN_URL: "http://origin.example" },
    ["GATEWAY_SIGNING_KEY is required when ORIGIN_URL is set"],
  ],
  [
    "a short GATEWAY_SIGNING_KEY",
    { ...ORIGIN, GATEWAY_SIGNING_KEY: "gateway-Secret-short" },
    ["GATEWAY_SIGNING_KEY must be at least 32"],
  ],
  ["GATEWAY_MAX_BODY_BYTES=0", { GATEWAY_MAX_BODY_BYTES: "0" }, ["GATEWAY_MAX_BODY_BYTES"]],
  ["FORWARD_AUTHORIZATION=maybe", { FORWARD_AUTHORIZATION: "maybe" }, ["FORWARD_AUTHORIZATION"]],
  ["EXPIRY_BATCH_SIZE=0", { EXPIRY_BATCH_SIZE: "0" }, ["EXPIRY_BATCH_SIZE"]],
  ["EXPIRY_TIME_BUDGET_MS=-5", { EXPIRY_TIME_BUDGET_MS: "-5" }, ["EXPIRY_TIME_BUDGET_MS"]],
  ["SESSION_RETENTION_DAYS=0", { SESSION_RETENTION_DAYS: "0" }, ["SESSION_RETENTION_DAYS"]],
  [
    "three problems at once",
    { ADMIN_API_KEY: "short-Secret", RETRY_AFTER_SECONDS: "x", ORIGIN_URL: "http://origin.example" },
    ["ADMIN_API_KEY", "RETRY_AFTER_SECONDS", "GATEWAY_SIGNING_KEY"],
  ],
];

describe("configuration that can never work", () => {
  it.each(broken)(
    "%s: 503 not_configured, one log line per problem, no secret anywhere",
    async (_name, overrides, problems) => {
      let res: Response | undefined;
      const lines = await captureLogs(async () => {
        res = await callWorker("/v1/validate", bearer("a-well-formed-token-0123456789"), {
          ADMIN_API_KEY: ADMIN_KEY,
          ...overrides,
        });
      });
      if (res === undefined) throw new Error("no response");
      expect(res.status).toBe(503);
      const body = await res.text();
      expect(JSON.parse(body)).toEqual({
        error: "not_configured",
        error_description: "The service is misconfigured; see its logs.",
      });
      const logged = events(lines, "config_error");
      expect(logged).toHaveLength(problems.length);
      for (const problem of problems) expect(logged.some((line) => String(line.problem).includes(problem))).toBe(true);
      const everything = [...lines, body, ...[...res.headers].map(([name, value]) => `${name}: ${value}`)].join("\n");
      for (const secret of SECRETS) expect(everything).not.toContain(secret);
    },
  );

  it.each([
    ["a touch interval of exactly half the idle timeout", { TOUCH_INTERVAL_SECONDS: "900" }],
    ["one minute idle with a 30 s touch", { IDLE_TIMEOUT_MINUTES: "1", TOUCH_INTERVAL_SECONDS: "30" }],
    ["a touch interval of 0 (every check)", { TOUCH_INTERVAL_SECONDS: "0" }],
    ["an ADMIN_API_KEY of exactly 512 characters", { ADMIN_API_KEY: "k".repeat(512) }],
    ["an ADMIN_API_KEY with every b64token character", { ADMIN_API_KEY: "Aa0-._~+/Aa0-._~+/Aa0-._~+/Aa0-._~+/==" }],
    ["ORIGIN_URL with a base path", { ...ORIGIN, ORIGIN_URL: "https://origin.example:8443/base/" }],
  ])("accepts %s", async (_name, overrides) => {
    const res = await callWorker("/healthz", {}, overrides);
    expect(res.status).toBe(200);
  });
});

describe("configuration honoured, not only at its defaults", () => {
  it("ABSOLUTE_TIMEOUT_HOURS sets the lifetime of issued sessions", async () => {
    const res = await callWorker(
      "/v1/sessions",
      { method: "POST", headers: adminJson(), body: JSON.stringify({ user_id: await createUser() }) },
      { ABSOLUTE_TIMEOUT_HOURS: "2" },
    );
    expect(res.status).toBe(201);
    const { session } = (await res.json()) as { session: { created_at: string; absolute_expires_at: string } };
    expect(Date.parse(session.absolute_expires_at) - Date.parse(session.created_at)).toBe(2 * 3600 * 1000);
  });

  it("MAX_ABSOLUTE_TIMEOUT_HOURS bounds what a request may ask for", async () => {
    const ask = (hours: number, max: string) =>
      callWorker(
        "/v1/sessions",
        { method: "POST", headers: adminJson(), body: JSON.stringify({ user_id: 1, absolute_timeout_hours: hours }) },
        { MAX_ABSOLUTE_TIMEOUT_HOURS: max },
      );
    const userId = await createUser();
    const allowed = await callWorker(
      "/v1/sessions",
      { method: "POST", headers: adminJson(), body: JSON.stringify({ user_id: userId, absolute_timeout_hours: 30 }) },
      { MAX_ABSOLUTE_TIMEOUT_HOURS: "48" },
    );
    expect(allowed.status).toBe(201);
    const refused = await ask(12, "10");
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { issues: unknown }).issues).toEqual([
      { path: "absolute_timeout_hours", message: "must be at most 10 (MAX_ABSOLUTE_TIMEOUT_HOURS)" },
    ]);
  });

  it("RETRY_AFTER_SECONDS is the Retry-After of every 503", async () => {
    const res = await callWorker("/v1/validate", bearer("a-well-formed-token-0123456789"), {
      DATABASE_URL: faultyDatabases.down,
      RETRY_AFTER_SECONDS: "17",
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("17");
  });

  it("IDLE_TIMEOUT_MINUTES decides the idle limit the check applies", async () => {
    const s = await insertSession({ idleSeconds: 10 * 60 });
    expect((await callWorker("/v1/validate", bearer(s.token), { IDLE_TIMEOUT_MINUTES: "15" })).status).toBe(200);
    const t = await insertSession({ idleSeconds: 10 * 60 });
    expect((await callWorker("/v1/validate", bearer(t.token), { IDLE_TIMEOUT_MINUTES: "10" })).status).toBe(401);
    expect(await readSession(t.id, 10)).toMatchObject({ is_active: false, revoke_reason: "idle_timeout" });
  });
});

describe("parseConnectionString", () => {
  it("reads a percent-encoded password as the driver does", () => {
    expect(parseConnectionString("postgresql://app:p%2Fss%40x@db.example:6543/app")).toEqual({
      ok: true,
      value: {
        url: "postgresql://app:p%2Fss%40x@db.example:6543/app",
        hostname: "db.example",
        port: "6543",
        user: "app",
        password: "p/ss@x",
        database: "app",
      },
    });
  });
});

describe("redact", () => {
  it.each([
    [
      "the driver's message for an unparsable URL",
      "not a valid URL (connection string: postgres://app:p/ss@db/app)",
      "p/ss",
    ],
    ["a URL in a stack", "at fetch (postgresql://svc:hunter2@10.0.0.1:5432/db?sslmode=require)", "hunter2"],
    ["a password parameter", "connect failed: host=db password=hunter2 user=app", "hunter2"],
    ["a bearer credential", "headers: Authorization: Bearer abcdefghijklmnop0123", "abcdefghijklmnop0123"],
  ])("removes credentials from %s", (_name, text, secret) => {
    const redacted = redact(text);
    expect(redacted).not.toContain(secret);
    expect(redacted).toContain("[redacted]");
  });

  it("removes configured secret values wherever they appear, longest first", () => {
    expect(redact(`key=${ADMIN_KEY}; pw=${PASSWORD}`, [ADMIN_KEY, PASSWORD])).toBe("key=[redacted]; pw=[redacted]");
  });
});

describe("logEvent", () => {
  const logged = async (event: { event: string } & Record<string, unknown>, secrets: string[] = []) => {
    const lines = await captureLogs(async () => logEvent("info", event, secrets));
    expect(lines).toHaveLength(1);
    return lines[0] as string;
  };

  it("writes a line with nothing to redact as JSON writes it", async () => {
    const event = {
      event: "session_check",
      outcome: "valid",
      sessionId: "9b1c0c6e-5b7e-4d6a-8f1e-0a1b2c3d4e5f",
      dbMs: 1.5,
    };
    expect(await logged(event, [ADMIN_KEY])).toBe(JSON.stringify(event));
  });

  it("redacts a configured secret JSON would escape, written inside a nested string", async () => {
    const secret = 'pa"ss\\word-with-quote';
    const line = await logged({ event: "x", detail: { message: `login as app:${secret} failed` } }, [secret]);
    expect(line).not.toContain(secret);
    expect(line).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(JSON.parse(line)).toEqual({ event: "x", detail: { message: "login as app:[redacted] failed" } });
  });

  // The fast path must never change a line: whatever the event and the secrets, the line is the
  // event with each string redacted before JSON escapes it (the definition it replaced).
  it("writes every line as the event with each of its strings redacted", async () => {
    const piece = fc.constantFrom(
      '"',
      "\\",
      "\n",
      "\ud800",
      "\udc00",
      "😀",
      "é",
      "x",
      "bearer ",
      "Bearer abcdefghijklmnop",
      "://",
      "u:p@",
      "password=",
    );
    const text = (extra: string[]) =>
      fc
        .array(extra.length > 0 ? fc.oneof(piece, fc.constantFrom(...extra)) : piece, { maxLength: 6 })
        .map((parts) => parts.join(""));
    const scenario = fc
      .array(
        fc.array(piece, { minLength: 1, maxLength: 5 }).map((parts) => parts.join("")),
        { maxLength: 3 },
      )
      .chain((secrets) =>
        fc.record({
          secrets: fc.constant(secrets),
          event: fc.record({
            event: fc.constant("x"),
            message: text(secrets),
            list: fc.array(text(secrets), { maxLength: 3 }),
            nested: fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(text(secrets), fc.integer()), { maxKeys: 3 }),
          }),
        }),
      );
    await fc.assert(
      fc.asyncProperty(scenario, async ({ secrets, event }) => {
        const expected = JSON.stringify(event, (_key, value: unknown) =>
          typeof value === "string" ? redact(value, secrets) : value,
        );
        expect(await logged(event, secrets)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it("redacts a plain secret inside a longer value, and credential shapes in any string", async () => {
    const line = await logged(
      {
        event: "x",
        key: `prefix${ADMIN_KEY}suffix`,
        list: ["Authorization: Bearer abcdefghijklmnop0123", "postgres://app:hunter2@db/app"],
      },
      [ADMIN_KEY],
    );
    expect(line).not.toContain(ADMIN_KEY);
    expect(line).not.toContain("abcdefghijklmnop0123");
    expect(line).not.toContain("hunter2");
    expect(JSON.parse(line)).toEqual({
      event: "x",
      key: "prefix[redacted]suffix",
      list: ["Authorization: Bearer [redacted]", "postgres://app:[redacted]@db/app"],
    });
  });
});

function adminJson(): Record<string, string> {
  return { authorization: `Bearer ${env.ADMIN_API_KEY}`, "content-type": "application/json" };
}
