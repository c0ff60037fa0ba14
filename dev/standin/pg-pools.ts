import pg from "pg";
import { couldNotConnect, isPostgresError, postgresError } from "./neon-error";

export interface PgPools {
  /** The role and database of DATABASE_URL: the stand-in's admin. */
  admin: { user: string; database: string };
  /** The admin's pool on its own database (migrations run through it). */
  adminPool: pg.Pool;
  /** A client connected as `user` to `database`, or the error Neon would answer for the connect. */
  connect(user: string, database: string): Promise<pg.PoolClient>;
  /** The stand-in's own queries (pg_authid, cancels): never queued behind busy request pools. */
  control: pg.Pool;
  end(): Promise<void>;
}

/**
 * One pool per role and database on the server of `databaseUrl`, as Neon's pool is keyed by
 * endpoint, database and role: a request runs as the role its connection string names, with that
 * role's privileges and settings. Other roles connect without a password (the stand-in has checked
 * it already), so the server must trust local connections for them (pg_hba.conf `trust`).
 */
export function createPgPools(databaseUrl: string, log: (line: string) => void): PgPools {
  // pg's own reading of the URL, with its defaults (PGUSER, USER; the database named after the user).
  const { user, database } = new pg.Client({ connectionString: databaseUrl });
  if (!user) throw new Error("the stand-in's DATABASE_URL must name a user");
  const admin = { user, database: database ?? user };
  const pools = new Map<string, pg.Pool>();

  function open(connectionString: string, options: pg.PoolConfig = {}): pg.Pool {
    const pool = new pg.Pool({ connectionString, ...options });
    // An idle client losing its connection (server restarted) is emitted here; without a listener
    // it would crash the process. The pool drops that client and the next query reports the outage.
    pool.on("error", (error) => log(`stand-in: idle PostgreSQL connection failed: ${error.message}`));
    return pool;
  }

  function poolFor(role: string, name: string): pg.Pool {
    const key = JSON.stringify([role, name]);
    let pool = pools.get(key);
    if (pool === undefined) {
      const url = new URL(databaseUrl);
      if (role !== admin.user) {
        url.username = role;
        url.password = "";
      }
      url.pathname = `/${encodeURIComponent(name)}`;
      pool = open(url.toString());
      pools.set(key, pool);
    }
    return pool;
  }

  const adminPool = open(databaseUrl);
  pools.set(JSON.stringify([admin.user, admin.database]), adminPool);
  const control = open(databaseUrl, { max: 2 });

  return {
    admin,
    adminPool,
    control,
    async connect(role, name) {
      try {
        return await poolFor(role, name).connect();
      } catch (error) {
        // Postgres refusing the session: a mistyped database is the user's error (400), anything
        // else (no CONNECT privilege, too many connections) Neon answers with 500, fields and all.
        if (isPostgresError(error)) throw postgresError(error.code === "3D000" ? 400 : 500, error);
        throw couldNotConnect(error);
      }
    },
    async end() {
      await Promise.all([...pools.values(), control].map((pool) => pool.end()));
    },
  };
}
