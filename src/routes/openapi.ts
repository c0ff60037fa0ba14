import type { Hono } from "hono";
import { describeRoute, generateSpecs } from "hono-openapi";
import type { AppEnv } from "../app-env";
import { ERROR_RESPONSES } from "../http/describe";

/*
 * GET /openapi.json: the OpenAPI 3.1 document, generated from the app's routes, each of which
 * describes itself beside its handler (describeRoute(), input(), jsonBody()). The gateway's
 * catch-all and the reserved-path answers describe nothing and so are not listed; the document's
 * description says what gateway mode does with every other path.
 */

const DOCUMENT_OPTIONS = {
  documentation: {
    openapi: "3.1.0",
    info: {
      title: "session-gate",
      version: "1",
      description:
        "Checks opaque bearer session tokens against the `sessions` table. Forward-auth proxies (nginx " +
        "auth_request, Caddy forward_auth, Traefik ForwardAuth) call `GET /v1/validate`; see docs/proxies/.\n\n" +
        "**Gateway mode.** With ORIGIN_URL and GATEWAY_SIGNING_KEY set, every path not listed here (nor under " +
        "`/v1`) is checked like `/v1/validate` and, only when valid, forwarded to the origin with the identity " +
        "headers and an `X-Session-Signature` HMAC (docs/gateway.md); a rejected request gets the same " +
        "401/403/503 and never reaches the origin. Without ORIGIN_URL those paths answer 404.",
    },
    components: {
      securitySchemes: {
        sessionToken: {
          type: "http" as const,
          scheme: "bearer",
          description: "A session token issued by `POST /v1/sessions` (or the existing application).",
        },
        adminKey: { type: "http" as const, scheme: "bearer", description: "The ADMIN_API_KEY secret." },
      },
      responses: Object.fromEntries(Object.values(ERROR_RESPONSES)),
    },
  },
  // Else "/openapi.json" itself is left out as a "static file".
  excludeStaticFile: false,
  // Else a 400 in the validator library's shape is added to every validated route: ours is the Error schema.
  defaultValidationErrorResponse: false,
};

export type OpenApiDocument = Awaited<ReturnType<typeof generateSpecs>>;
const documents = new WeakMap<Hono<AppEnv>, Promise<OpenApiDocument>>();

/** The OpenAPI document of `app`, generated once per isolate (it depends on code only, never on configuration). */
export function getOpenApiDocument(app: Hono<AppEnv>): Promise<OpenApiDocument> {
  let document = documents.get(app);
  if (document === undefined) {
    document = generateSpecs(app, DOCUMENT_OPTIONS);
    documents.set(app, document);
  }
  return document;
}

/** Mounts GET /openapi.json on `app`: the document of `app` itself. */
export function mountOpenApi(app: Hono<AppEnv>): void {
  app.get(
    "/openapi.json",
    describeRoute({
      operationId: "openapi",
      summary: "This document.",
      security: [],
      responses: {
        "200": {
          description: "The OpenAPI 3.1 document.",
          content: { "application/json": { schema: { type: "object" } } },
        },
      },
    }),
    async (c) => c.json(await getOpenApiDocument(app)),
  );
}
