import type { ValidSession } from "./session";

/** The most answers one isolate remembers: far below its 128 MB (an entry is a few hundred bytes). */
export const CHECK_CACHE_MAX_ENTRIES = 10_000;

interface Entry {
  session: ValidSession;
  /** Until when, on this isolate's monotonic clock (`performance.now()`), the answer may be reused. */
  until: number;
}

/**
 * The opt-in cache of valid answers (VALID_CACHE_SECONDS; off by default): a token whose session
 * was valid a moment ago is taken as valid again without asking the database, for at most
 * VALID_CACHE_SECONDS, at most the touch interval (so the session is still touched on time), and
 * never past the first of its limits by the database's own count. What it costs: a session ended
 * elsewhere (another isolate, the application, the job) can still pass here until its entry runs
 * out; one this isolate ends is forgotten at once. Per isolate, bounded, oldest entry out first.
 */
export class CheckCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxAgeMs: number,
    private readonly maxEntries = CHECK_CACHE_MAX_ENTRIES,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The remembered session for a token hash, if its time has not run out. */
  get(tokenHash: string): ValidSession | undefined {
    const entry = this.entries.get(tokenHash);
    if (entry === undefined) return undefined;
    if (this.now() >= entry.until) {
      this.entries.delete(tokenHash);
      return undefined;
    }
    return entry.session;
  }

  /** Remembers a valid answer for `validForSeconds` (the database's count) at most. */
  set(tokenHash: string, session: ValidSession, validForSeconds: number): void {
    const ageMs = Math.min(this.maxAgeMs, validForSeconds * 1000);
    if (ageMs <= 0) return;
    this.entries.delete(tokenHash);
    // A Map iterates in insertion order: the first key is the oldest entry.
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(tokenHash, { session, until: this.now() + ageMs });
  }

  /** Forgets the sessions this isolate has just ended (a scan: ends are rare, checks are not). */
  forgetSessions(predicate: (session: ValidSession) => boolean): void {
    for (const [hash, entry] of this.entries) if (predicate(entry.session)) this.entries.delete(hash);
  }
}

// One cache per configuration (so per isolate and environment), made on first use.
const caches = new WeakMap<object, CheckCache>();

/** The cache of `config`, or undefined when VALID_CACHE_SECONDS is 0 (off). */
export function checkCacheFor(config: {
  validCacheSeconds: number;
  touchIntervalSeconds: number;
}): CheckCache | undefined {
  if (config.validCacheSeconds === 0) return undefined;
  let cache = caches.get(config);
  if (cache === undefined) {
    // Never longer than the touch interval: a session in use is still touched on time.
    const seconds = Math.min(config.validCacheSeconds, Math.max(config.touchIntervalSeconds, 0));
    cache = new CheckCache(seconds * 1000);
    caches.set(config, cache);
  }
  return cache;
}

/** After this isolate ended sessions: none of them may be answered from the cache again. */
export function forgetEndedSessions(
  config: { validCacheSeconds: number; touchIntervalSeconds: number },
  ended: (session: ValidSession) => boolean,
): void {
  checkCacheFor(config)?.forgetSessions(ended);
}
