import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { VARIABLE_DEFAULTS } from "../../src/config";

/*
 * wrangler.toml as wrangler itself reads it, per environment. Staging is only worth promoting from
 * if it runs what production will: the same variables, schedule and code, with its own name,
 * secrets and metrics dataset.
 */
const production = unstable_readConfig({ config: "wrangler.toml" }, { hideWarnings: true });
const staging = unstable_readConfig({ config: "wrangler.toml", env: "staging" }, { hideWarnings: true });

describe("wrangler.toml", () => {
  it("staging has the production variables, schedule, observability and build, under its own name", () => {
    expect(staging.name).toBe("session-gate-staging");
    expect(staging.vars).toEqual(production.vars);
    expect(staging.triggers).toEqual(production.triggers);
    expect(staging.observability).toEqual(production.observability);
    expect(staging.compatibility_date).toBe(production.compatibility_date);
    expect(staging.alias).toEqual(production.alias);
  });

  it("each environment writes its metrics to a dataset of its own", () => {
    const datasets = [production, staging].map((config) => config.analytics_engine_datasets);
    expect(datasets[0]).toEqual([{ binding: "METRICS", dataset: "session_gate" }]);
    expect(datasets[1]).toEqual([{ binding: "METRICS", dataset: "session_gate_staging" }]);
  });

  it("logs are on, and keep the query strings the gateway forwards out of them", () => {
    expect(production.observability).toMatchObject({ enabled: true, redact_query_string: true });
    expect(production.observability?.head_sampling_rate).toBeGreaterThan(0);
  });

  it("declares no secret and no stand-in switch, and its variables are the code's defaults", () => {
    for (const config of [production, staging]) {
      for (const [name, value] of Object.entries(config.vars)) {
        expect(["DATABASE_URL", "ADMIN_API_KEY", "GATEWAY_SIGNING_KEY", "NEON_LOCAL_HTTP"]).not.toContain(name);
        expect(String(VARIABLE_DEFAULTS[name as keyof typeof VARIABLE_DEFAULTS]), name).toBe(value);
      }
    }
  });
});
