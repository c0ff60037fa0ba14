import { Hono } from "hono";
import { describeRoute, resolver } from "hono-openapi";
import type * as z from "zod";
import type { AppEnv } from "../app-env";
import { ERROR_CODES, httpError } from "../errors";
import { errors } from "../http/describe";
import { JwksResponse } from "../http/schemas";

/**
 * GET /.well-known/jwks.json: the public keys origins verify the identity assertion with
 * (ASSERTION_SIGNING_KEY's, and during a rotation ASSERTION_PREVIOUS_KEY's), each with its `kid`.
 * Cacheable for five minutes: a rotation publishes the new key alongside the old one first.
 */
export const jwksRoutes = new Hono<AppEnv>().get(
  "/.well-known/jwks.json",
  describeRoute({
    operationId: "jwks",
    summary: "The public keys of the identity assertion (RFC 7517 JWK set).",
    security: [],
    responses: {
      "200": {
        description: "The current key, and the previous one during a rotation.",
        content: { "application/json": { schema: resolver(JwksResponse) } },
      },
      ...errors("404"),
    },
  }),
  (c) => {
    const { assertionSigningKey, assertionPreviousKey } = c.var.config;
    if (assertionSigningKey === undefined) {
      throw httpError(404, { error: ERROR_CODES.notFound, error_description: "No assertion key is configured." });
    }
    const keys = [assertionSigningKey, assertionPreviousKey].flatMap((key) =>
      key === undefined ? [] : [key.publicJwk],
    );
    const body = { keys } satisfies z.output<typeof JwksResponse>;
    return c.json(body, 200, { "cache-control": "public, max-age=300" });
  },
);
