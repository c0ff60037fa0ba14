import { createHash, timingSafeEqual } from "node:crypto";

/** A user who may log in: the id session-gate's sessions table knows them by. */
export interface LoginUser {
  userId: number;
  tenantId?: number;
  appType?: "control_panel" | "tenant_app";
}

/** Your user store's password check: the user, or null for a wrong username or password. */
export type CheckPassword = (username: string, password: string) => Promise<LoginUser | null>;

/**
 * A stand-in for a real user store: one user from the environment (DEMO_USERNAME, DEMO_PASSWORD,
 * DEMO_USER_ID, an existing row of `users`). Replace it with your own check of a password hash.
 */
export function demoUser(env: Record<string, string | undefined>): CheckPassword {
  const username = env.DEMO_USERNAME ?? "demo";
  const password = env.DEMO_PASSWORD ?? "";
  const userId = Number(env.DEMO_USER_ID);
  if (password === "" || !Number.isInteger(userId) || userId < 1) {
    throw new Error("DEMO_PASSWORD and DEMO_USER_ID (an existing user's id) are required");
  }
  return async (givenUsername, givenPassword) =>
    givenUsername === username && sameSecret(givenPassword, password) ? { userId } : null;
}

/** Compares in constant time (digests first, so the lengths do not show either). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
