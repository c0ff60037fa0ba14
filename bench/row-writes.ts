/**
 * Counts the row versions each system's check writes when several checks race, where reading
 * xmin after the fact cannot (it shows that a row changed, not how many times): an AFTER UPDATE
 * trigger on each sessions table logs one line per version written. Installed only for the burst
 * measurement and dropped after it, so no other figure pays for it.
 */
import type pg from "pg";

export interface WriteCounter {
  /** Row versions written for `key` of `table` since the last `reset`. */
  count(table: string, key: string): Promise<number>;
  reset(): Promise<void>;
  uninstall(): Promise<void>;
}

export async function installWriteCounter(
  client: pg.Client,
  tables: { name: string; key: string }[],
): Promise<WriteCounter> {
  await client.query(`
    create table if not exists public.bench_row_writes (tbl text not null, key text not null);
    create or replace function public.bench_count_row_write() returns trigger
    language plpgsql security definer set search_path = pg_catalog, public as $$
    begin
      insert into public.bench_row_writes values (tg_table_schema || '.' || tg_table_name, to_jsonb(new) ->> tg_argv[0]);
      return null;
    end $$;`);
  for (const table of tables) {
    await client.query(
      `create trigger bench_count_row_write after update on ${table.name}
       for each row execute function public.bench_count_row_write('${table.key}')`,
    );
  }
  return {
    async count(table, key) {
      const result = await client.query<{ n: number }>(
        "select count(*)::int as n from public.bench_row_writes where tbl = $1 and key = $2",
        [table, key],
      );
      return result.rows[0]?.n ?? 0;
    },
    async reset() {
      await client.query("truncate public.bench_row_writes");
    },
    async uninstall() {
      for (const table of tables) await client.query(`drop trigger if exists bench_count_row_write on ${table.name}`);
      await client.query(
        "drop function if exists public.bench_count_row_write(); drop table if exists public.bench_row_writes",
      );
    },
  };
}
