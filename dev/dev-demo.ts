import { createHash, randomBytes } from "node:crypto";
import type { StandIn } from "./standin/index";

/** What `npm run dev` was asked for on the command line (`npm run dev -- --demo`). */
export interface DemoRequest {
  /** Write a demo session into a database `DATABASE_URL` names (the embedded one always gets one). */
  demo: boolean;
  /** `--demo-user=ID`: the session is this existing user's, and no user or tenant is created. */
  userId: number | undefined;
}

export function readDemoRequest(args: readonly string[]): DemoRequest {
  let demo = false;
  let userId: number | undefined;
  for (const arg of args) {
    const user = /^--demo-user=([1-9][0-9]{0,9})$/.exec(arg);
    if (arg === "--demo") demo = true;
    else if (user?.[1] !== undefined) {
      demo = true;
      userId = Number(user[1]);
    } else throw new Error(`unknown argument "${arg}": npm run dev [-- --demo | --demo-user=ID]`);
  }
  return { demo, userId };
}

export interface DemoSession {
  token: string;
  userId: string;
  tenantId: string | null;
  absoluteExpiresAt: string;
}

/**
 * A demo session, in one statement so that a failure leaves no half of it: for `userId` when
 * given, else for a new user and tenant (which works on our own minimal tables; an application's
 * users table usually has required columns, and then this says to name a user instead). Every
 * column of the session is written, because the existing application's table has no server
 * defaults for `id`, `is_active` or `app_type`.
 */
export async function createDemoSession(
  standIn: StandIn,
  options: { userId: number | undefined; absoluteTimeoutHours: number },
): Promise<DemoSession> {
  const token = randomBytes(32).toString("base64url");
  // Only the hash is stored, as the application that issues sessions does.
  const tokenHash = createHash("sha256").update(token, "utf8").digest("hex");
  const owner =
    options.userId === undefined
      ? `new_user as (insert into users default values returning id),
         new_tenant as (insert into tenants default values returning id),
         owner as (select new_user.id as user_id, new_tenant.id as tenant_id from new_user, new_tenant)`
      : "owner as (select id as user_id, null::int as tenant_id from users where id = $3::int)";
  const params = [tokenHash, String(options.absoluteTimeoutHours)];
  if (options.userId !== undefined) params.push(String(options.userId));
  let result: Awaited<ReturnType<StandIn["backend"]["query"]>>;
  try {
    result = await standIn.backend.query(
      `with ${owner}
       insert into sessions (id, user_id, session_token_hash, created_at, last_activity_at, absolute_expires_at,
         ip_address, user_agent, tenant_id, is_active, app_type)
       select gen_random_uuid(), owner.user_id, $1, now(), now(), now() + make_interval(hours => $2::int),
         null, 'npm run dev', owner.tenant_id, true, 'control_panel'
       from owner
       returning user_id::text, tenant_id::text, absolute_expires_at::text`,
      params,
    );
  } catch (error) {
    if (options.userId === undefined && (error as { code?: string }).code === "23502") {
      throw new Error("this database's users table has required columns: name an existing user with --demo-user=ID");
    }
    throw error;
  }
  const [userId, tenantId, absoluteExpiresAt] = result.rows[0] ?? [];
  if (!userId || !absoluteExpiresAt) {
    throw new Error(
      options.userId === undefined ? "creating the demo session returned no row" : `no user ${options.userId}`,
    );
  }
  return { token, userId, tenantId: tenantId ?? null, absoluteExpiresAt };
}
