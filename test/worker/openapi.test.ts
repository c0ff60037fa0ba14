import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { callWorker } from "../helpers/worker";

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
  components: { securitySchemes: Record<string, { type: string; scheme: string }> };
}

async function fetchDocument(): Promise<OpenApiDocument> {
  const res = await callWorker("/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json()) as OpenApiDocument;
}

/** Every route the app answers itself: not the `*` middleware, not the gateway's catch-all. */
function registeredRoutes(): [string, string][] {
  const routes = createApp()
    .routes.filter((r) => r.method !== "ALL" && !r.path.includes("*"))
    .map((r): [string, string] => [r.method.toLowerCase(), r.path.replace(/:(\w+)/g, "{$1}")]);
  return [...new Map(routes.map((r) => [r.join(" "), r])).values()];
}

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document with both security schemes", async () => {
    const doc = await fetchDocument();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: "session-gate" });
    expect(doc.components.securitySchemes).toEqual({
      sessionToken: expect.objectContaining({ type: "http", scheme: "bearer" }),
      adminKey: expect.objectContaining({ type: "http", scheme: "bearer" }),
    });
  });

  it("finds routes to check", () => {
    // Guards the filter below: if Hono changed how it reports routes, the next test would pass vacuously.
    expect(registeredRoutes().length).toBeGreaterThanOrEqual(9);
  });

  it.each(registeredRoutes())("describes %s %s", async (method, path) => {
    const doc = await fetchDocument();
    const operation = doc.paths[path]?.[method];
    expect(operation, `${method.toUpperCase()} ${path} is missing from /openapi.json`).toBeDefined();
    expect(Object.keys(operation?.responses ?? {}).length).toBeGreaterThan(0);
  });

  it("describes no route the app does not have", async () => {
    const doc = await fetchDocument();
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method} ${path}`),
    );
    expect(documented.sort()).toEqual(
      registeredRoutes()
        .map((r) => r.join(" "))
        .sort(),
    );
  });

  it("generates request schemas from the validating zod schemas", async () => {
    const doc = (await fetchDocument()) as unknown as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string; schema: unknown }[] }>>;
    };
    const validate = doc.paths["/v1/validate"]?.get?.parameters ?? [];
    expect(validate).toContainEqual(
      expect.objectContaining({
        name: "app_type",
        in: "query",
        schema: { type: "string", enum: ["control_panel", "tenant_app"] },
      }),
    );
    const issue = (await fetchDocument()) as unknown as {
      paths: { "/v1/sessions": { post: { requestBody: { content: Record<string, { schema: unknown }> } } } };
    };
    expect(issue.paths["/v1/sessions"].post.requestBody.content["application/json"]?.schema).toMatchObject({
      type: "object",
      required: ["user_id"],
      additionalProperties: false,
    });
  });

  it("documents the identity headers and the challenge headers", async () => {
    const doc = (await fetchDocument()) as unknown as {
      paths: { "/v1/validate": { get: { responses: { "200": { headers: Record<string, unknown> } } } } };
      components: { responses: Record<string, { headers?: Record<string, unknown> }> };
    };
    expect(Object.keys(doc.paths["/v1/validate"].get.responses["200"].headers)).toEqual(
      expect.arrayContaining(["X-Session-Id", "X-User-Id", "X-Tenant-Id", "X-App-Type"]),
    );
    expect(doc.components.responses.Unauthorized?.headers).toHaveProperty("WWW-Authenticate");
    expect(doc.components.responses.Forbidden?.headers).toHaveProperty("WWW-Authenticate");
    expect(doc.components.responses.Unavailable?.headers).toHaveProperty("Retry-After");
  });
});
