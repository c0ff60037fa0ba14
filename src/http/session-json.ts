import type * as z from "zod";
import type { Session, ValidSession } from "../sessions/session";
import type { SessionJson, ValidSessionJson } from "./schemas";

/** `lastActivityAt` -> `last_activity_at`, at the type level. */
type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}`
  : S;
export type SnakeCased<T> = { [K in keyof T as SnakeCase<K & string>]: T[K] };

/**
 * The one conversion between the domain's session (camelCase) and the HTTP API's (snake_case, as
 * the seed's `to_dict`): every key, nothing else.
 */
export function toSnakeCase<T extends object>(value: T): SnakeCased<T> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[snakeCaseKey(key)] = v;
  return out as SnakeCased<T>;
}

// The keys are the domain's few field names: each is converted once, not on every answer.
const snakeCaseKeys = new Map<string, string>();

function snakeCaseKey(key: string): string {
  let converted = snakeCaseKeys.get(key);
  if (converted === undefined) {
    converted = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    snakeCaseKeys.set(key, converted);
  }
  return converted;
}

// The response schemas describe exactly the domain shapes, snake_cased: a field added to one and
// not the other fails typecheck here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sessionShapesAgree: Same<SnakeCased<Session>, z.output<typeof SessionJson>> = true;
const validSessionShapesAgree: Same<SnakeCased<ValidSession>, z.output<typeof ValidSessionJson>> = true;
void sessionShapesAgree;
void validSessionShapesAgree;
