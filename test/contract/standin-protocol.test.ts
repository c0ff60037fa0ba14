/**
 * The stand-in answers what Neon's proxy answers to requests that are not plain queries: error
 * bodies, unparsable bodies, params of every JSON type, batch headers, other methods and paths
 * (docs/neon-contract.md). Through the genuine driver where it can send the request, raw HTTP
 * otherwise. Runs on PGlite always, and on the TEST_DATABASE_URL server when set.
 */
import { NeonDbError, neon, neonConfig } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin/index";

neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;

const serverUrl = process.env.TEST_DATABASE_URL;
const backends = serverUrl ? (["pglite", "pg"] as const) : (["pglite"] as const);

const NEON_ERROR_KEYS = [
  "message",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "severity",
  "where",
  "table",
  "column",
  "schema",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
];

describe.each(backends)("stand-in protocol on %s", (backend) => {
  let standIn: StandIn;
  let dropDatabase: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const scratch =
      backend === "pg" && serverUrl ? await createScratchDatabase(serverUrl, "standin_protocol") : undefined;
    dropDatabase = scratch?.drop;
    standIn = await startStandIn({ databaseUrl: scratch?.url, port: 0 });
  }, 60_000);

  afterAll(async () => {
    await standIn?.close();
    await dropDatabase?.();
  });

  /** A request with the driver's headers, and any body and extra headers. */
  async function postSql(body: string, headers: Record<string, string> = {}) {
    const response = await fetch(`${standIn.url}/sql`, {
      method: "POST",
      headers: { "neon-connection-string": standIn.databaseUrl(), ...headers },
      body,
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as unknown };
  }

  const query = (text: string, params: unknown[] = []) => JSON.stringify({ query: text, params });
  const batch = (...texts: string[]) => JSON.stringify({ queries: texts.map((text) => ({ query: text, params: [] })) });

  it("sends every error with Neon's 17 keys in order, null where absent, position as a string", async () => {
    const postgres = await postSql(query("select 1 +"));
    expect(postgres.status).toBe(400);
    expect(Object.keys(postgres.body as object)).toEqual(NEON_ERROR_KEYS);
    expect(postgres.body).toMatchObject({
      code: "42601",
      severity: "ERROR",
      position: "11",
      detail: null,
      table: null,
    });
    expect(typeof (postgres.body as { line: unknown }).line).toBe("string");

    const own = await postSql("{}");
    expect(own.status).toBe(400);
    expect(Object.keys(own.body as object)).toEqual(NEON_ERROR_KEYS);
    expect(own.body).toMatchObject({ code: "", severity: "", position: null, file: null, line: null, routine: null });
  });

  it.each([
    ["an empty body", "", "EOF while parsing a value at line 1 column 0"],
    ["a body without a query", '{"params": []}', "data did not match any variant of untagged enum Payload"],
    ["a query that is not a string", '{"query": 1}', "data did not match any variant of untagged enum Payload"],
    [
      "params that are not an array",
      '{"query": "select 1", "params": null}',
      "data did not match any variant of untagged enum Payload",
    ],
    [
      "a batch with a bad query",
      '{"queries": [{"params": []}]}',
      "data did not match any variant of untagged enum Payload",
    ],
  ])("refuses %s with Neon's parse error", async (_name, body, detail) => {
    const response = await postSql(body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ message: `could not parse the HTTP request body: ${detail}`, code: "" });
  });

  it("refuses a body that is not JSON with the same prefix", async () => {
    const response = await postSql("select 1");
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ message: expect.stringMatching(/^could not parse the HTTP request body: /) });
  });

  it("reads a body as Neon does: params optional, unknown keys ignored, `query` before `queries`", async () => {
    expect((await postSql('{"query": "select 1 as one"}')).body).toMatchObject({ rows: [["1"]] });
    const both = await postSql('{"query": "select 2 as two", "queries": "ignored", "extra": true}');
    expect(both.body).toMatchObject({ rows: [["2"]] });
  });

  it("converts params of every JSON type as Neon's json_to_pg_text", async () => {
    const params = [null, "it's", true, 42, 1.5, { a: 1 }, [1, 2, 3], ["a", "b"], [[{}]], [null, true, "x"]];
    const placeholders = params.map((_, index) => `$${index + 1}::text`).join(", ");
    const response = await postSql(query(`select ${placeholders}`, params));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      rows: [[null, "it's", "true", "42", "1.5", '{"a":1}', "{1,2,3}", '{"a","b"}', '{{"{}"}}', '{NULL,true,"x"}']],
    });
    const typed = await postSql(query("select $1::int[] as ints", [[1, 2, 3]]));
    expect(typed.body).toMatchObject({ rows: [["{1,2,3}"]] });
  });

  it.each(["Chaotic", "serializable", ""])("refuses isolation level %j, on single queries too", async (level) => {
    for (const body of [query("select 1"), batch("select 1")]) {
      const response = await postSql(body, { "neon-batch-isolation-level": level });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ message: "invalid isolation level", code: "" });
    }
  });

  it("accepts a valid isolation level on a single query, and echoes a batch's modes", async () => {
    expect((await postSql(query("select 1"), { "neon-batch-isolation-level": "Serializable" })).status).toBe(200);
    const response = await postSql(batch("show transaction_isolation", "show transaction_read_only"), {
      "neon-batch-isolation-level": "Serializable",
      "neon-batch-read-only": "true",
      "neon-batch-deferrable": "true",
    });
    expect(response.body).toMatchObject({ results: [{ rows: [["serializable"]] }, { rows: [["on"]] }] });
    expect(response.headers.get("neon-batch-isolation-level")).toBe("Serializable");
    expect(response.headers.get("neon-batch-read-only")).toBe("true");
    expect(response.headers.get("neon-batch-deferrable")).toBe("true");
  });

  it.each(["false", "TRUE", "yes", ""])(
    "takes read-only and deferrable %j as not set, never as an error",
    async (value) => {
      const response = await postSql(batch("show transaction_read_only", "show transaction_deferrable"), {
        "neon-batch-isolation-level": "Serializable",
        "neon-batch-read-only": value,
        "neon-batch-deferrable": value,
      });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ results: [{ rows: [["off"]] }, { rows: [["off"]] }] });
      expect(response.headers.get("neon-batch-read-only")).toBeNull();
    },
  );

  it("leaves readOnly: false from the driver to the server's default instead of sending READ WRITE", async () => {
    const sql = neon(standIn.databaseUrl());
    const [rows] = await sql.transaction([sql`show transaction_read_only`], { readOnly: false, deferrable: false });
    expect(rows).toEqual([{ transaction_read_only: "off" }]);
  });

  it.each([
    ["GET", "/sql"],
    ["PUT", "/sql"],
    ["OPTIONS", "/sql"],
    ["POST", "/sql/"],
    ["POST", "/SQL"],
    ["GET", "/"],
    ["POST", "/__standin/health"],
  ])("answers %s %s with Neon's 400 and the JSON string body", async (method, path) => {
    const response = await fetch(`${standIn.url}${path}`, { method });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.text()).toBe('"query is not supported"');
  });

  it("reaches the driver as a NeonDbError without a message, when it is pointed at another path", async () => {
    const endpoint = neonConfig.fetchEndpoint;
    neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql/`;
    try {
      const error = await neon(standIn.databaseUrl())`select 1`.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(NeonDbError);
      expect(error).toMatchObject({ message: "", code: undefined });
    } finally {
      neonConfig.fetchEndpoint = endpoint;
    }
  });
});
