/**
 * Neon's size limits (docs/neon-contract.md): a request body over the limit is a 413, a response
 * that passes it before a row is appended is a 507, counted across a whole batch, which is then
 * rolled back. On a stand-in with small limits, so the boundaries are cheap to reach; the 10 MiB
 * defaults are checked in standin.test.ts.
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { type NeonQueryFunction, neon, neonConfig } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin/index";

neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;

const serverUrl = process.env.TEST_DATABASE_URL;
const backends = serverUrl ? (["pglite", "pg"] as const) : (["pglite"] as const);

const MAX_REQUEST_BYTES = 2000;
const MAX_RESPONSE_BYTES = 1000;

/** The whole error a 413 or 507 raises in the driver: the status, then the body as sent. */
function serverError(status: number, message: string): string {
  const body = { message, code: "", detail: null, hint: null, position: null, internalPosition: null };
  const rest = { internalQuery: null, severity: "", where: null, table: null, column: null, schema: null };
  const tail = { dataType: null, constraint: null, file: null, line: null, routine: null };
  return `Server error (HTTP status ${status}): ${JSON.stringify({ ...body, ...rest, ...tail })}`;
}

describe.each(backends)("stand-in size limits on %s", (backend) => {
  let standIn: StandIn;
  let dropDatabase: (() => Promise<void>) | undefined;
  let sql: NeonQueryFunction<false, false>;

  beforeAll(async () => {
    const scratch =
      backend === "pg" && serverUrl ? await createScratchDatabase(serverUrl, "standin_limits") : undefined;
    dropDatabase = scratch?.drop;
    standIn = await startStandIn({
      databaseUrl: scratch?.url,
      port: 0,
      maxRequestBytes: MAX_REQUEST_BYTES,
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
    sql = neon(standIn.databaseUrl());
  }, 60_000);

  afterAll(async () => {
    await standIn?.close();
    await dropDatabase?.();
  });

  /** A body of exactly `bytes` bytes that asks for the length of its padding. */
  function bodyOf(bytes: number): string {
    const empty = JSON.stringify({ query: "select length($1) as n", params: [""] });
    const padded = JSON.stringify({ query: "select length($1) as n", params: ["x".repeat(bytes - empty.length)] });
    expect(Buffer.byteLength(padded)).toBe(bytes);
    return padded;
  }

  /** POSTs `parts` with the driver's headers, chunked (no Content-Length) unless `sized`. */
  function post(parts: string[], sized: boolean) {
    const body = parts.join("");
    const headers: Record<string, string> = {
      "content-type": "text/plain;charset=UTF-8",
      "neon-connection-string": standIn.databaseUrl(),
    };
    if (sized) headers["content-length"] = String(Buffer.byteLength(body));
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(
        { host: "127.0.0.1", port: standIn.port, path: "/sql", method: "POST", headers },
        (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => {
            text += chunk.toString("utf8");
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
        },
      );
      request.on("error", reject);
      for (const part of parts) request.write(part);
      request.end();
    });
  }

  it.each([true, false])(
    "accepts a body of exactly the limit and refuses one byte more (Content-Length: %s)",
    async (sized) => {
      const atLimit = bodyOf(MAX_REQUEST_BYTES);
      expect((await post([atLimit.slice(0, 900), atLimit.slice(900)], sized)).status).toBe(200);
      const over = bodyOf(MAX_REQUEST_BYTES + 1);
      const refused = await post([over.slice(0, 900), over.slice(900)], sized);
      expect(refused.status).toBe(413);
      expect(JSON.parse(refused.body)).toMatchObject({
        message: `request is too large (max is ${MAX_REQUEST_BYTES} bytes)`,
        code: "",
      });
    },
  );

  it("reaches the driver as Neon's 413 does", async () => {
    await expect(sql.query("select $1", ["x".repeat(MAX_REQUEST_BYTES)])).rejects.toThrow(
      serverError(413, `request is too large (max is ${MAX_REQUEST_BYTES} bytes)`),
    );
  });

  /** Rows of 100 x's: each `["x…x"]` is 104 bytes, 105 with the comma before it. */
  const rowsOf100 = (count: number) =>
    `select repeat('x', 100) as v from generate_series(1, ${count}) /* ${randomBytes(2).toString("hex")} */`;

  /** The most rows of 100 x's whose response stays within the limit before its last row. */
  async function mostRowsAllowed(): Promise<number> {
    const empty = await post([JSON.stringify({ query: rowsOf100(0), params: [] })], true);
    const beforeRows = empty.body.indexOf('"rows":[') + '"rows":['.length;
    // Before row k (k >= 2) the response holds beforeRows + (k - 1) * 105 - 1 bytes.
    return Math.floor((MAX_RESPONSE_BYTES + 1 - beforeRows) / 105) + 1;
  }

  it("checks the limit before each row: the last row may pass it, a row after that may not", async () => {
    const most = await mostRowsAllowed();
    const fits = await post([JSON.stringify({ query: rowsOf100(most), params: [] })], true);
    expect(fits.status).toBe(200);
    expect(Buffer.byteLength(fits.body)).toBeGreaterThan(MAX_RESPONSE_BYTES);
    const tooMany = await post([JSON.stringify({ query: rowsOf100(most + 1), params: [] })], true);
    expect(tooMany.status).toBe(507);
    expect(JSON.parse(tooMany.body)).toMatchObject({
      message: `response is too large (max is ${MAX_RESPONSE_BYTES} bytes)`,
      code: "",
    });
  });

  it("reaches the driver as Neon's 507 does", async () => {
    await expect(sql.query(rowsOf100((await mostRowsAllowed()) + 1))).rejects.toThrow(
      serverError(507, `response is too large (max is ${MAX_RESPONSE_BYTES} bytes)`),
    );
  });

  it("never refuses a statement without rows", async () => {
    const table = `standin_limits_${randomBytes(4).toString("hex")}`;
    await sql.query(`create table ${table} (id integer)`);
    const inserted = await sql.query(`insert into ${table} select generate_series(1, 5000)`, [], { fullResults: true });
    expect(inserted.rowCount).toBe(5000);
  });

  it("counts a batch's results together, and rolls the batch back", async () => {
    const table = `standin_limits_${randomBytes(4).toString("hex")}`;
    await sql.query(`create table ${table} (id integer)`);
    const half = Math.floor((await mostRowsAllowed()) / 2);
    // Each select alone fits; the second starts after the first's rows.
    await sql.transaction([sql.query(rowsOf100(half))]);
    const batch = sql.transaction([
      sql.query(`insert into ${table} values (1)`),
      sql.query(rowsOf100(half)),
      sql.query(rowsOf100(half)),
    ]);
    await expect(batch).rejects.toThrow(serverError(507, `response is too large (max is ${MAX_RESPONSE_BYTES} bytes)`));
    expect(await sql.query(`select id from ${table}`)).toEqual([]);
  });
});
