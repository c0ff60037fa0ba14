import { describe, expect, it } from "vitest";
import { callWorker, faultyDatabases } from "../helpers/worker";

describe("GET /healthz", () => {
  it("answers 200 when the database answers", async () => {
    const res = await callWorker("/healthz");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({ status: "ok", db: "ok" });
  });

  it.each(Object.entries(faultyDatabases))("answers 503 when the database is %s", async (_name, databaseUrl) => {
    const res = await callWorker("/healthz", {}, { DATABASE_URL: databaseUrl });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toEqual({
      status: "unavailable",
      db: "unreachable",
    });
  });
});
