import type { Config } from "../config";
import type { Db } from "../db/client";
import { endSession, endSessionsOfUser } from "../db/session-lifecycle";
import { forgetEndedSessions } from "./check-cache";
import type { RevokeReason } from "./constants";

/*
 * Ending sessions on someone's request (a logout, an administrator): one statement each, which
 * ends truthfully what had already expired (src/db/session-lifecycle.ts); then this isolate's
 * cache of valid answers (VALID_CACHE_SECONDS) forgets what it ended, so the very next check here
 * is refused.
 */

/** Ends one session; true when it was live until now. */
export async function endOneSession(db: Db, config: Config, id: string, reason: RevokeReason): Promise<boolean> {
  const ended = await endSession(db, id, reason, config);
  forgetEndedSessions(config, (session) => session.id === id);
  return ended;
}

/** Ends a user's live sessions, but `exceptSessionId`; returns how many were live. */
export async function endSessionsOfOneUser(
  db: Db,
  config: Config,
  userId: number,
  reason: RevokeReason,
  exceptSessionId?: string,
): Promise<number> {
  const ended = await endSessionsOfUser(db, userId, reason, { ...config, exceptSessionId });
  forgetEndedSessions(config, (session) => session.userId === userId && session.id !== exceptSessionId);
  return ended;
}
