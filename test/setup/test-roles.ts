import { randomBytes } from "node:crypto";
import type { StandIn } from "../../dev/standin";

export interface Role {
  user: string;
  password: string;
}

/**
 * The roles a test run logs in as, made for this run and dropped after it (roles belong to the
 * whole server, and another run may be using the same server):
 * - `worker`: a member of session_gate_worker, the least-privilege role the migrations grant
 *   (drizzle/0004_worker_role.sql): what the Worker runs as in production, so in every test;
 * - `ungranted`: may log in, and nothing more: what a Worker deployed without the grants meets.
 * The tests' own direct SQL (playing the existing application) uses the stand-in's admin role.
 */
export async function createTestRoles(
  standIn: StandIn,
  workerPassword: string,
): Promise<{ worker: Role; ungranted: Role; drop(): Promise<void> }> {
  const run = randomBytes(4).toString("hex");
  const worker = { user: `session_gate_test_${run}_worker`, password: workerPassword };
  const ungranted = { user: `session_gate_test_${run}_ungranted`, password: randomBytes(18).toString("base64url") };
  // Identifiers and passwords of our own making, from [a-z0-9_] and base64url: safe to inline.
  await standIn.backend.query(
    `create role ${worker.user} login password '${worker.password}' in role session_gate_worker`,
    [],
  );
  await standIn.backend.query(`create role ${ungranted.user} login password '${ungranted.password}'`, []);
  return {
    worker,
    ungranted,
    async drop() {
      for (const role of [worker, ungranted]) await standIn.backend.query(`drop role if exists ${role.user}`, []);
    },
  };
}
