import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { SessionValidator } from "../../src/session-validator";
import { insertSession, newToken } from "../helpers/db";
import { captureLogs, events } from "../helpers/logs";
import { bearer, callWorkerIn, faultyDatabases, testEnv } from "../helpers/worker";

/*
 * The Analytics Engine data points (src/metrics.ts) an operator's dashboards and alerts read
 * (docs/operations.md): one per check, by entry point, outcome and reason, with the database's
 * time; one per expiry run. Locally the dataset drops every write, so these tests bind a
 * recorder in its place, as the runtime would bind the dataset.
 */

/** A dataset that keeps what was written, in the shape the SQL API reads it back. */
function recorder(): AnalyticsEngineDataset & { points: AnalyticsEngineDataPoint[] } {
  const points: AnalyticsEngineDataPoint[] = [];
  return { points, writeDataPoint: (point) => void points.push(point ?? {}) };
}

const GATEWAY = { ORIGIN_URL: `http://127.0.0.1:${env.TEST_ORIGIN_PORT}`, GATEWAY_SIGNING_KEY: "k".repeat(43) };

describe("check data points", () => {
  it("one per check: entry point, outcome, reason, app type, the database's milliseconds", async () => {
    const metrics = recorder();
    const workerEnv = { ...testEnv(), METRICS: metrics };
    const s = await insertSession({ appType: "tenant_app" });

    await callWorkerIn(workerEnv, "/v1/validate", bearer(s.token));
    await callWorkerIn(workerEnv, "/v1/validate", bearer(newToken()));
    await callWorkerIn(workerEnv, "/v1/validate", bearer("short"));
    await callWorkerIn(workerEnv, "/v1/validate", {});

    expect(metrics.points.map((p) => p.blobs)).toEqual([
      ["check", "validate", "valid", "", "tenant_app"],
      ["check", "validate", "rejected", "unknown", ""],
      ["check", "validate", "rejected", "malformed_credentials", ""],
      ["check", "validate", "rejected", "missing_credentials", ""],
    ]);
    expect(metrics.points.every((p) => p.indexes?.[0] === "validate")).toBe(true);
    // The database was asked twice; the malformed and missing credentials never reached it.
    const dbMs = metrics.points.map((p) => p.doubles?.[0] ?? -1);
    expect(dbMs[0]).toBeGreaterThan(0);
    expect(dbMs[1]).toBeGreaterThan(0);
    expect(dbMs.slice(2)).toEqual([0, 0]);
    expect(metrics.points.map((p) => p.doubles?.[1])).toEqual([0, 0, 0, 0]);
  });

  it("names the gateway, a bearer route and the service binding as their entry points", async () => {
    const metrics = recorder();
    const s = await insertSession();

    await callWorkerIn({ ...testEnv(GATEWAY), METRICS: metrics }, "/app/page", bearer(s.token));
    await callWorkerIn({ ...testEnv(), METRICS: metrics }, "/v1/sessions/current", bearer(s.token));
    const validator = new SessionValidator(createExecutionContext(), { ...testEnv(), METRICS: metrics });
    await validator.validate(s.token);

    expect(metrics.points.map((p) => [p.indexes?.[0], p.blobs?.[2]])).toEqual([
      ["gateway", "valid"],
      ["session_auth", "valid"],
      ["binding", "valid"],
    ]);
  });

  it("marks an answer from the cache, and an outage as an error with its cause", async () => {
    const metrics = recorder();
    const cached = { ...testEnv({ VALID_CACHE_SECONDS: "30" }), METRICS: metrics };
    const s = await insertSession();
    await callWorkerIn(cached, "/v1/validate", bearer(s.token));
    await callWorkerIn(cached, "/v1/validate", bearer(s.token));
    await callWorkerIn(
      { ...testEnv({ DATABASE_URL: faultyDatabases.down }), METRICS: metrics },
      "/v1/validate",
      bearer(s.token),
    );

    expect(metrics.points.map((p) => [p.blobs?.[2], p.blobs?.[3], p.doubles?.[1]])).toEqual([
      ["valid", "", 0],
      ["valid", "", 1],
      ["error", "database_unavailable", 0],
    ]);
  });

  it("the dataset miniflare binds from wrangler.toml receives them", async () => {
    expect(env.METRICS).toBeDefined();
    const write = vi.spyOn(env.METRICS as AnalyticsEngineDataset, "writeDataPoint");
    const s = await insertSession();
    const res = await callWorkerIn(testEnv(), "/v1/validate", bearer(s.token));
    expect(res.status).toBe(200);
    expect(write).toHaveBeenCalledTimes(1);
    expect(write.mock.calls[0]?.[0]?.blobs?.slice(0, 3)).toEqual(["check", "validate", "valid"]);
    write.mockRestore();
  });

  it("a dataset that throws costs nothing but the point: the check still answers", async () => {
    const broken: AnalyticsEngineDataset = {
      writeDataPoint() {
        throw new Error("dataset unavailable");
      },
    };
    const s = await insertSession();
    const res = await callWorkerIn({ ...testEnv(), METRICS: broken }, "/v1/validate", bearer(s.token));
    expect(res.status).toBe(200);
  });

  it("the log line names the entry point too", async () => {
    const s = await insertSession();
    const lines = await captureLogs(async () => {
      await callWorkerIn(testEnv(), "/v1/validate", bearer(s.token));
    });
    expect(events(lines, "session_check")).toEqual([
      expect.objectContaining({ entryPoint: "validate", outcome: "valid", sessionId: s.id }),
    ]);
  });
});

describe("expiry run data points", () => {
  async function runScheduled(workerEnv: Cloudflare.Env): Promise<void> {
    const ctx = createExecutionContext();
    const controller = createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" });
    await worker.scheduled(controller, workerEnv, ctx);
    await waitOnExecutionContext(ctx).catch(() => undefined);
  }

  it("one per run with what it ended, and one for a failed run with its outcome", async () => {
    const idle = await insertSession({ idleSeconds: 31 * 60 });
    const metrics = recorder();
    await runScheduled({ ...testEnv(), METRICS: metrics });
    await runScheduled({ ...testEnv({ DATABASE_URL: faultyDatabases.failing }), METRICS: metrics });

    expect(metrics.points).toHaveLength(2);
    const [ok, failed] = metrics.points;
    expect(ok?.indexes).toEqual(["expiry_run"]);
    expect(ok?.blobs).toEqual(["expiry_run", "ok", ""]);
    // Other tests' rows may be ended by the same run; ours is among the idle ones.
    expect(ok?.doubles?.[0]).toBeGreaterThanOrEqual(1);
    expect(ok?.doubles?.[4]).toBeGreaterThanOrEqual(1);
    expect(ok?.doubles?.[6]).toBe(0);
    expect(failed?.blobs?.slice(0, 2)).toEqual(["expiry_run", "failed"]);
    expect(idle.id).toBeTruthy();
  });
});
