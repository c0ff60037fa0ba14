/**
 * `npm run db:migrate`: applies the drizzle-kit migrations in drizzle/ to `DATABASE_URL`, a Neon
 * URL or a local PostgreSQL server, over TCP with `pg` (Neon accepts those too). `sslmode` and the
 * other URL parameters apply as written. Already applied migrations are skipped.
 */

import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { describeError } from "./describe-error";
import { redactPassword } from "./redact-password";

const migrationsFolder = fileURLToPath(new URL("../drizzle", import.meta.url));
// drizzle-orm's migrator records what it applied here (its defaults).
const journalTable = `"drizzle"."__drizzle_migrations"`;

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl || !/^postgres(ql)?:\/\//.test(databaseUrl)) {
  console.error(
    "db:migrate: DATABASE_URL must be set to a postgres:// or postgresql:// URL, e.g.\n" +
      "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/app npm run db:migrate",
  );
  process.exit(1);
}

const target = redactPassword(databaseUrl);
// Without a timeout an unreachable host keeps the command silent for minutes.
const client = new pg.Client({
  connectionString: databaseUrl,
  connectionTimeoutMillis: 15_000,
});
try {
  await client.connect();
  const before = await countAppliedMigrations(client);
  await migrate(drizzle(client), { migrationsFolder });
  const after = await countAppliedMigrations(client);
  console.log(`db:migrate: ${target}: applied ${after - before} new migration(s) from drizzle/, ${after} in total`);
  await client.end();
} catch (error) {
  console.error(`db:migrate: ${target}: failed: ${describeError(error)}`);
  await client.end().catch(() => undefined);
  process.exit(1);
}

async function countAppliedMigrations(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ exists: boolean }>(
    `select to_regclass('${journalTable}') is not null as exists`,
  );
  if (!rows[0]?.exists) return 0;
  const result = await client.query<{ count: string }>(`select count(*) as count from ${journalTable}`);
  return Number(result.rows[0]?.count ?? 0);
}
