/**
 * Contract tests for the local stand-in of Neon's SQL-over-HTTP endpoint: the genuine
 * `@neondatabase/serverless` driver and `drizzle-orm/neon-http`, unchanged, must get from it what
 * they get from Neon. Runs on embedded PGlite always, and on a PostgreSQL server when
 * TEST_DATABASE_URL names one (a fresh database is created there and dropped afterwards).
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NeonDbError, type NeonQueryFunction, neon, neonConfig } from "@neondatabase/serverless";
import { DrizzleQueryError, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { integer, pgTable, text } from "drizzle-orm/pg-core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin/index";

// Send the driver to the stand-in instead of https://api.<host>/sql.
neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;

interface BackendCase {
  name: "pglite" | "pg";
  /** Returns the databaseUrl for startStandIn and how to clean up after the suite. */
  prepare(): Promise<{ databaseUrl?: string; dispose(): Promise<void> }>;
}

const testDatabaseUrl = process.env.TEST_DATABASE_URL;

const backendCases: BackendCase[] = [{ name: "pglite", prepare: async () => ({ dispose: async () => undefined }) }];
if (testDatabaseUrl) {
  backendCases.push({
    name: "pg",
    prepare: () => prepareScratchDatabase(testDatabaseUrl),
  });
}

/** A database of its own on the TEST_DATABASE_URL server, so runs never see each other's tables. */
async function prepareScratchDatabase(serverUrl: string) {
  const scratch = await createScratchDatabase(serverUrl, "standin_contract");
  return { databaseUrl: scratch.url, dispose: scratch.drop };
}

/** A drizzle-kit style migrations folder with one migration; its path, to delete afterwards. */
async function writeMigrations(statements: string[]): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "standin-migrations-"));
  await mkdir(join(folder, "meta"));
  const journal = {
    version: "7",
    dialect: "postgresql",
    entries: [
      {
        idx: 0,
        version: "7",
        when: Date.now(),
        tag: "0000_contract",
        breakpoints: true,
      },
    ],
  };
  await writeFile(join(folder, "meta", "_journal.json"), JSON.stringify(journal));
  await writeFile(join(folder, "0000_contract.sql"), statements.join("\n--> statement-breakpoint\n"));
  return folder;
}

function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 8)}`;
}

describe.each(backendCases)("stand-in on $name", (backendCase) => {
  let standIn: StandIn;
  let dispose: () => Promise<void>;
  let sql: NeonQueryFunction<false, false>;
  // Undefined on PGlite: a second stand-in then starts a PGlite of its own.
  let databaseUrl: string | undefined;

  const users = uniqueName("contract_users");
  const notes = uniqueName("contract_notes");

  beforeAll(async () => {
    const prepared = await backendCase.prepare();
    dispose = prepared.dispose;
    databaseUrl = prepared.databaseUrl;
    standIn = await startStandIn({
      databaseUrl,
      port: 0,
    });
    sql = neon(connectionString(standIn));
    await sql.query(`create table ${users} (id integer primary key, email text not null unique)`);
    await sql.query(
      `create table ${notes} (id integer primary key, user_id integer not null references ${users}, body text)`,
    );
    // PGlite takes 2-3 s to start.
  }, 60_000);

  afterAll(async () => {
    await standIn?.close();
    await dispose?.();
  });

  function connectionString(target: StandIn, applicationName?: string) {
    return target.databaseUrl(undefined, { applicationName });
  }

  /** A request as the driver sends it (its headers, its content type), with any body. */
  function postSql(body: string, headers: Record<string, string> = {}) {
    return fetch(`${standIn.url}/sql`, {
      method: "POST",
      headers: { "neon-connection-string": connectionString(standIn), ...headers },
      body,
    });
  }

  async function emailsOf(ids: number[]): Promise<string[]> {
    const rows = await sql.query(`select email from ${users} where id = any($1) order by id`, [ids]);
    return rows.map((row) => row.email as string);
  }

  it("reports its backend on the health endpoint", async () => {
    const response = await fetch(`${standIn.url}/__standin/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ backend: backendCase.name });
  });

  it("runs a single statement with params", async () => {
    const rows = await sql`select ${41}::int + 1 as answer, ${"x"} as letter`;
    expect(rows).toEqual([{ answer: 42, letter: "x" }]);
  });

  it("reports command and rowCount like node-postgres", async () => {
    const id = 1_000;
    const inserted = await sql.query(
      `insert into ${users} (id, email) values ($1, $2), ($3, $4)`,
      [id, `a${id}@example.test`, id + 1, `b${id}@example.test`],
      { fullResults: true },
    );
    expect(inserted).toMatchObject({
      command: "INSERT",
      rowCount: 2,
      rows: [],
    });
  });

  it("round-trips uuid, timestamptz, boolean, integer, text and null", async () => {
    const table = uniqueName("contract_values");
    await sql.query(
      `create table ${table} (u uuid, at timestamptz, flag boolean, n integer, label text, missing text)`,
    );
    const uuid = randomUUID();
    const at = new Date("2024-02-29T23:59:58.123Z");
    const label = `it's "quoted", ünïcödé, \\ and {braces}`;
    await sql.query(`insert into ${table} values ($1, $2, $3, $4, $5, $6)`, [uuid, at, false, -7, label, null]);
    // Per-query stock parsers: creating a drizzle neon-http instance (another test here does)
    // switches the driver's shared timestamptz parser to strings for the rest of the isolate.
    const rows = await sql.query(`select * from ${table}`, [], {
      types: pg.types,
    });
    expect(rows).toEqual([{ u: uuid, at, flag: false, n: -7, label, missing: null }]);
  });

  it("sends values as Postgres text on the wire", async () => {
    // The SET LOCAL pins the zone of the timestamptz text whatever the server's default.
    const response = await postSql(
      JSON.stringify({
        queries: [
          { query: "set local time zone 'UTC'", params: [] },
          {
            query: "select true as t, false as f, null::int as n, $1::timestamptz as at, 7::int8 as big",
            params: ["2024-01-02T03:04:05.678Z"],
          },
        ],
      }),
    );
    expect(response.status).toBe(200);
    const { results } = (await response.json()) as {
      results: { rows: unknown[][]; fields: { dataTypeID: number }[] }[];
    };
    expect(results[1]?.rows).toEqual([["t", "f", null, "2024-01-02 03:04:05.678+00", "7"]]);
    expect(results[1]?.fields.map((field) => field.dataTypeID)).toEqual([16, 16, 23, 1184, 20]);
  });

  it("commits every statement of a transaction", async () => {
    await sql.transaction([
      sql`insert into ${sql.unsafe(users)} (id, email) values (${2_000}, ${"t2000@example.test"})`,
      sql`insert into ${sql.unsafe(notes)} (id, user_id, body) values (${2_000}, ${2_000}, ${"hi"})`,
    ]);
    expect(await emailsOf([2_000])).toEqual(["t2000@example.test"]);
  });

  it("rolls a whole transaction back when one statement fails", async () => {
    await sql.query(`insert into ${users} (id, email) values ($1, $2)`, [3_000, "taken3000@example.test"]);
    const failing = sql.transaction([
      sql`insert into ${sql.unsafe(users)} (id, email) values (${3_001}, ${"new3001@example.test"})`,
      sql`insert into ${sql.unsafe(users)} (id, email) values (${3_002}, ${"taken3000@example.test"})`,
    ]);
    await expect(failing).rejects.toMatchObject({ code: "23505" });
    expect(await emailsOf([3_001, 3_002])).toEqual([]);
  });

  it.each([
    ["Serializable", "serializable"],
    ["RepeatableRead", "repeatable read"],
    ["ReadCommitted", "read committed"],
  ] as const)("honours isolationLevel %s", async (isolationLevel, shown) => {
    const [rows] = await sql.transaction([sql`show transaction_isolation`], {
      isolationLevel,
    });
    expect(rows).toEqual([{ transaction_isolation: shown }]);
  });

  it("honours readOnly and deferrable", async () => {
    const [readOnly, deferrable] = await sql.transaction(
      [sql`show transaction_read_only`, sql`show transaction_deferrable`],
      { isolationLevel: "Serializable", readOnly: true, deferrable: true },
    );
    expect(readOnly).toEqual([{ transaction_read_only: "on" }]);
    expect(deferrable).toEqual([{ transaction_deferrable: "on" }]);
  });

  it("rejects a write in a readOnly transaction", async () => {
    const write = sql.transaction(
      [sql`insert into ${sql.unsafe(users)} (id, email) values (${4_000}, ${"ro@example.test"})`],
      { readOnly: true },
    );
    await expect(write).rejects.toMatchObject({ code: "25006" });
    expect(await emailsOf([4_000])).toEqual([]);
  });

  it.each([
    {
      code: "23505",
      what: "a unique violation",
      statement: () => `insert into ${users} (id, email) values (5000, 'u@x'), (5001, 'u@x')`,
      fields: { constraint: `${users}_email_key`, table: users },
    },
    {
      code: "23503",
      what: "a foreign key violation",
      statement: () => `insert into ${notes} (id, user_id) values (5002, -1)`,
      fields: { constraint: `${notes}_user_id_fkey`, table: notes },
    },
    {
      code: "42P01",
      what: "a missing table",
      statement: () => "select * from contract_no_such_table",
      fields: { position: "15" },
    },
    {
      code: "42601",
      what: "two statements in one query",
      statement: () => "select 1; select 2",
      fields: {},
    },
  ])("raises NeonDbError $code for $what", async ({ code, statement, fields }) => {
    const error = await sql.query(statement()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NeonDbError);
    expect(error).toMatchObject({ code, severity: "ERROR", ...fields });
  });

  it("runs drizzle batches in one transaction, and rolls them back on error", async () => {
    const authors = pgTable(users, {
      id: integer("id").primaryKey(),
      email: text("email").notNull(),
    });
    const db = drizzle({ client: sql });

    const [inserted, selected] = await db.batch([
      db.insert(authors).values({ id: 6_000, email: "d6000@example.test" }).returning(),
      db.select().from(authors).where(eq(authors.id, 6_000)),
    ]);
    expect(inserted).toEqual([{ id: 6_000, email: "d6000@example.test" }]);
    expect(selected).toEqual(inserted);

    const failing = db.batch([
      db.insert(authors).values({ id: 6_001, email: "d6001@example.test" }),
      db.insert(authors).values({ id: 6_002, email: "d6000@example.test" }),
    ]);
    // drizzle hands batch errors through as the driver's NeonDbError...
    await expect(failing).rejects.toMatchObject({
      name: "NeonDbError",
      code: "23505",
    });
    expect(await emailsOf([6_001, 6_002])).toEqual([]);
    // ...but wraps the error of a single query in a DrizzleQueryError, with the NeonDbError as cause.
    const single = db.insert(authors).values({ id: 6_003, email: "d6000@example.test" });
    const singleError = await single.catch((caught: unknown) => caught);
    expect(singleError).toBeInstanceOf(DrizzleQueryError);
    expect(singleError).toMatchObject({
      cause: { name: "NeonDbError", code: "23505" },
    });
  });

  it("applies migrations, and serves types they create as text", async () => {
    const mood = uniqueName("contract_mood");
    const diary = uniqueName("contract_diary");
    const folder = await writeMigrations([
      `create type ${mood} as enum ('calm', 'busy')`,
      `create table ${diary} (id integer primary key, mood ${mood} not null)`,
    ]);
    try {
      await standIn.backend.migrate(folder);
    } finally {
      await rm(folder, { recursive: true });
    }
    const rows = await sql.query(`insert into ${diary} values (1, 'busy') returning mood, array[mood] as moods`);
    expect(rows).toEqual([{ mood: "busy", moods: "{busy}" }]);
  });

  it("counts requests per application_name before running them", async () => {
    const applicationName = uniqueName("contract_app");
    const named = neon(connectionString(standIn, applicationName));
    const before = standIn.stats().requests;

    await named`select 1`;
    await named.query("select * from contract_no_such_table").catch(() => undefined);
    await named.transaction([named`select 1`, named`select 2`]);

    expect(standIn.stats().requests).toBe(before + 3);
    expect(standIn.stats().byApplicationName[applicationName]).toBe(3);
    const response = await fetch(`${standIn.url}/__standin/stats`);
    expect(await response.json()).toMatchObject({
      byApplicationName: { [applicationName]: 3 },
    });
    // Without a delay nothing is held.
    expect(standIn.stats().heldMs).toEqual([]);
  });

  it("holds each request delayMs before running it, and records how long it really held it", async () => {
    const slow = await startStandIn({ databaseUrl, port: 0, delayMs: 30 });
    try {
      const started = performance.now();
      const rows = await neon(connectionString(slow))`select 1 as one`;
      const tookMs = performance.now() - started;
      expect(rows).toEqual([{ one: 1 }]);
      const held = slow.stats().heldMs;
      expect(held).toHaveLength(1);
      // A timer never fires early by more than the clocks' rounding; late is what the record is for.
      expect(held[0]).toBeGreaterThanOrEqual(29);
      expect(tookMs).toBeGreaterThanOrEqual(held[0] as number);
    } finally {
      await slow.close();
    }
  });

  it("holds the requests after holdFor() as long as it says, and none after holdFor(0)", async () => {
    const standIn = await startStandIn({ databaseUrl, port: 0 });
    try {
      const run = neon(connectionString(standIn));
      await run`select 1 as one`;
      expect(standIn.stats().heldMs).toEqual([]);
      standIn.holdFor(30);
      expect(await run`select 2 as two`).toEqual([{ two: 2 }]);
      expect(standIn.stats().heldMs).toHaveLength(1);
      expect(standIn.stats().heldMs[0]).toBeGreaterThanOrEqual(29);
      standIn.holdFor(0);
      await run`select 3 as three`;
      expect(standIn.stats().heldMs).toHaveLength(1);
      expect(() => standIn.holdFor(-1)).toThrow(/delayMs must be a whole number of milliseconds, got -1/);
    } finally {
      await standIn.close();
    }
  });

  it("refuses a body over Neon's 10 MiB with 413, and a response over it with 507", async () => {
    const tooLong = sql.query("select length($1)", ["x".repeat(10 * 1024 * 1024)]);
    await expect(tooLong).rejects.toThrow(
      /^Server error \(HTTP status 413\): \{"message":"request is too large \(max is 10485760 bytes\)","code":""/,
    );
    // Eleven rows of 1 MiB: the limit is passed before the last one.
    const tooMany = sql.query("select repeat('x', 1024 * 1024) from generate_series(1, 11)");
    await expect(tooMany).rejects.toThrow(
      /^Server error \(HTTP status 507\): \{"message":"response is too large \(max is 10485760 bytes\)","code":""/,
    );
  });
});

describe("stand-in refuses what a web page could send it (it runs SQL as a superuser)", () => {
  let standIn: StandIn;
  beforeAll(async () => {
    standIn = await startStandIn({ port: 0 });
  }, 60_000);
  afterAll(async () => {
    await standIn?.close();
  });

  /** A raw HTTP request, so that Host and every other header are exactly what the test says. */
  function send(headers: Record<string, string>, body = JSON.stringify({ query: "select 1 as one", params: [] })) {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(
        { host: "127.0.0.1", port: standIn.port, path: "/sql", method: "POST", headers, setHost: false },
        (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => {
            text += chunk.toString("utf8");
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
        },
      );
      request.on("error", reject);
      request.end(body);
    });
  }

  const driverHeaders = (): Record<string, string> => ({
    host: `127.0.0.1:${standIn.port}`,
    "content-type": "text/plain;charset=UTF-8",
    "neon-connection-string": standIn.databaseUrl(),
  });

  it("runs SQL for a request exactly as the driver sends it", async () => {
    const res = await send(driverHeaders());
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ rows: [["1"]] });
    expect((await send({ ...driverHeaders(), host: `localhost:${standIn.port}` })).status).toBe(200);
  });

  it.each<[string, Record<string, string | undefined>, number]>([
    ["a DNS-rebound Host", { host: "attacker.example:PORT" }, 403],
    ["a Host on another port", { host: "127.0.0.1:1" }, 403],
    // Node's HTTP server itself refuses an HTTP/1.1 request without Host.
    ["no Host", { host: undefined }, 400],
    ["any Origin (a cross-origin page)", { origin: "https://attacker.example" }, 403],
    ["a same-looking Origin", { origin: "http://127.0.0.1" }, 403],
  ])("refuses %s (%j) and runs nothing", async (_name, override, status) => {
    const headers: Record<string, string> = driverHeaders();
    for (const [name, value] of Object.entries(override)) {
      if (value === undefined) delete headers[name];
      else headers[name] = value.replace("PORT", String(standIn.port));
    }
    const before = standIn.stats().requests;
    const res = await send(headers);
    expect(res.status).toBe(status);
    expect(standIn.stats().requests).toBe(before);
  });

  it.each([
    ["a form post", { "content-type": "application/x-www-form-urlencoded" }, 415],
    ["JSON", { "content-type": "application/json" }, 415],
    ["no content type", { "content-type": "" }, 415],
  ])("refuses %s (a content type the driver never sends)", async (_name, override, status) => {
    const headers: Record<string, string> = { ...driverHeaders(), ...override };
    if (headers["content-type"] === "") delete headers["content-type"];
    expect((await send(headers)).status).toBe(status);
  });

  it.each([
    ["without a connection string", undefined, "invalid header: neon-connection-string"],
    ["without a password", { password: "" }, "missing authentication credentials: required password"],
    [
      "with a password other than the secret",
      { password: "guess" },
      "password authentication failed for user 'postgres'",
    ],
  ])("refuses a request %s, as Neon would", async (_name, urlOptions, message) => {
    const headers = driverHeaders();
    if (urlOptions === undefined) delete headers["neon-connection-string"];
    else headers["neon-connection-string"] = standIn.databaseUrl(undefined, urlOptions);
    const before = standIn.stats().requests;
    const res = await send(headers);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ message, code: "", severity: "" });
    expect(standIn.stats().requests).toBe(before);
  });
});
