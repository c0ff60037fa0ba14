import type { MiddlewareHandler, ValidationTargets } from "hono";
import { resolver, uniqueSymbol, validator } from "hono-openapi";
import type * as z from "zod";
import type { AppEnv } from "../app-env";
import { ERROR_CODES, httpError } from "../errors";

type Issue = { path: string; message: string };

function invalid(target: string, issues: Issue[]) {
  return httpError(400, {
    error: ERROR_CODES.invalidRequest,
    error_description: `The request ${target} is invalid.`,
    issues,
  });
}

/** Standard Schema issues (zod's): a path segment is a key or `{ key }`. */
type StandardIssue = { message: string; path?: readonly (PropertyKey | { key: PropertyKey })[] | undefined };

function issuesOf(issues: readonly StandardIssue[], target: string): Issue[] {
  return issues.map((issue) => ({
    path: (issue.path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join(".") || target,
    message: issue.message,
  }));
}

/**
 * A validated input (query, path parameters) with this service's error shape: a failing input
 * answers 400 `{"error": "invalid_request", "issues": [{path, message}, ...]}`, one entry per bad
 * field. The schema also describes the input in /openapi.json.
 */
export function input<Target extends keyof ValidationTargets, Schema extends z.ZodType>(
  target: Target,
  schema: Schema,
) {
  const middleware = validator(target, schema, (result) => {
    if (!result.success) throw invalid(target, issuesOf(result.error, target));
  });
  const empty = target === "query" ? schema.safeParse({}) : undefined;
  if (!empty?.success) return middleware;
  // A request without a query string has the same valid query every time, validated here once:
  // `/v1/validate` is asked this way on every request a proxy lets through, and reading and
  // parsing the query each time was CPU for nothing.
  const withoutQuery: typeof middleware = async (c, next) => {
    if (c.req.url.includes("?")) return middleware(c, next);
    c.req.addValidatedData(target, empty.data as object);
    await next();
  };
  // The validator's description of the input (for /openapi.json) goes with it.
  const description = (middleware as unknown as Record<symbol, unknown>)[uniqueSymbol];
  return Object.assign(withoutQuery, { [uniqueSymbol]: description });
}

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * A JSON body, validated like `input("json", ...)` but strict about the envelope: Hono's own json
 * validator reads a body of any other content type as `{}`, which would let a form post or plain
 * text pass as "no fields". Here a non-JSON body is a 400; with `optional`, an empty body is `{}`.
 * It describes itself as the operation's requestBody in /openapi.json.
 */
export function jsonBody<Schema extends z.ZodType>(
  schema: Schema,
  options: { optional?: boolean } = {},
): MiddlewareHandler<AppEnv, string, { in: { json: z.input<Schema> }; out: { json: z.output<Schema> } }> {
  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    const text = await c.req.text();
    let value: unknown = {};
    if (text.trim() !== "" || !options.optional) {
      const mediaType = (c.req.header("content-type") ?? "").split(";")[0]?.trim() ?? "";
      if (!JSON_MEDIA_TYPE.test(mediaType)) {
        throw invalid("body", [{ path: "content-type", message: "must be application/json" }]);
      }
      try {
        value = JSON.parse(text);
      } catch {
        throw invalid("body", [{ path: "body", message: "is not valid JSON" }]);
      }
    }
    const result = schema.safeParse(value);
    if (!result.success) throw invalid("json", issuesOf(result.error.issues, "body"));
    c.req.addValidatedData("json", result.data as object);
    await next();
  };
  // hono-openapi reads this marker to describe the body.
  return Object.assign(middleware, {
    [uniqueSymbol]: {
      spec: {
        requestBody: { required: !options.optional, content: { "application/json": { schema: resolver(schema) } } },
      },
    },
  });
}
