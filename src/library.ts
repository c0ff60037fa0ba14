/*
 * What other Workers and Hono apps import from the `session-gate` package: the `sessionAuth`
 * middleware, and the types of the `SessionValidator` service binding and of the check's
 * outcomes. Nothing here pulls in the Worker's own app (its routes and /openapi.json): a consumer
 * bundles the check and nothing else. The Worker itself is src/index.ts.
 */
export type { Env } from "./config";
export { type SessionAuthOptions, sessionAuth } from "./middleware/session-auth";
export type { SessionValidator, ValidateResult } from "./session-validator";
export type { CheckOutcome, CheckRequirements, RejectReason } from "./sessions/check-outcome";
export type { AppType } from "./sessions/constants";
export type { Session, ValidSession } from "./sessions/session";
