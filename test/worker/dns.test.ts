import { describe, expect, it } from "vitest";
import { bearer, callWorker } from "../helpers/worker";

/*
 * A database host that does not resolve: DNS is part of the wire too. `.invalid` never resolves
 * (RFC 6761), and the production path is taken (no NEON_LOCAL_HTTP: the driver asks
 * https://<host>/sql, as on Neon), so the failure is the runtime's own lookup failing.
 */
describe("a database host that does not resolve", () => {
  it("GET /v1/validate answers 503 with Retry-After within VALIDATION_TIMEOUT_MS and a margin, then recovers", async () => {
    const vars = {
      DATABASE_URL: "postgres://session_gate_worker:password@db.session-gate.invalid/sessions",
      NEON_LOCAL_HTTP: "false",
    };
    const started = performance.now();
    const res = await callWorker("/v1/validate", bearer("A".repeat(43)), vars);
    const took = performance.now() - started;
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toEqual({
      error: "temporarily_unavailable",
      error_description: "The session store is unavailable; try again later.",
    });
    // VALIDATION_TIMEOUT_MS is 1000 in the tests; the margin is SECURITY.md's 500 ms.
    expect(took).toBeLessThan(1500);
    expect((await callWorker("/v1/validate", bearer("A".repeat(43)))).status).toBe(401);
  });
});
