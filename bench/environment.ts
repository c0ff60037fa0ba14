/** The machine and the versions a run measured, for results.json and BENCHMARKS.md. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import type pg from "pg";

export interface RunEnvironment {
  date: string;
  machine: { cpu: string; cores: number; memoryGb: number; kernel: string };
  versions: Record<string, string>;
  postgres: Record<string, string>;
}

const packages = [
  "wrangler",
  "workerd",
  "miniflare",
  "hono",
  "drizzle-orm",
  "@neondatabase/serverless",
  "pg",
  "autocannon",
  "tsx",
] as const;

function packageVersion(name: string): string {
  try {
    const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function npmVersion(): string {
  const agent = /npm\/([\d.]+)/.exec(process.env.npm_config_user_agent ?? "")?.[1];
  if (agent) return agent;
  try {
    return execFileSync("npm", ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

const postgresSettings = [
  "shared_buffers",
  "work_mem",
  "synchronous_commit",
  "fsync",
  "autovacuum",
  "jit",
  "random_page_cost",
  "effective_cache_size",
];

export async function describeEnvironment(client: pg.Client): Promise<RunEnvironment> {
  const version = await client.query<{ v: string }>("select version() as v");
  const settings = await client.query<{ name: string; value: string }>(
    "select name, current_setting(name) as value from pg_settings where name = any($1) order by name",
    [postgresSettings],
  );
  const cpu = os.cpus()[0]?.model ?? "unknown";
  return {
    date: new Date().toISOString(),
    machine: {
      cpu,
      cores: os.availableParallelism(),
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      kernel: `${os.type()} ${os.release()}`,
    },
    versions: {
      node: process.versions.node,
      npm: npmVersion(),
      postgresql: (version.rows[0]?.v ?? "unknown").split(" on ")[0] ?? "unknown",
      ...Object.fromEntries(packages.map((name) => [name, packageVersion(name)])),
    },
    postgres: Object.fromEntries(settings.rows.map((row) => [row.name, row.value])),
  };
}
