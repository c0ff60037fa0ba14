import { zValidator } from "@hono/zod-validator";
import type { MiddlewareHandler, ValidationTargets } from "hono";
import type { ZodType, z } from "zod";
import { ERROR_CODES, httpError } from "../errors";
import type { AppEnv } from "../types";

type Issue = { path: string; message: string };

function invalid(target: string, issues: Issue[]) {
  return httpError(400, {
    error: ERROR_CODES.invalidRequest,
    error_description: `The request ${target} is invalid.`,
    issues,
  });
}

function issuesOf(
  error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] },
  target: string,
): Issue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join(".") || target, message: issue.message }));
}

/**
 * Hono's validator with this service's error shape: a failing input answers
 * 400 `{"error": "invalid_request", "issues": [{path, message}, ...]}`, one entry per bad field.
 */
export function input<Target extends keyof ValidationTargets, Schema extends ZodType>(target: Target, schema: Schema) {
  return zValidator(target, schema, (result) => {
    if (!result.success) throw invalid(target, issuesOf(result.error, target));
  });
}

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * A JSON body, validated like `input("json", ...)` but strict about the envelope: Hono's own json
 * validator reads a body of any other content type as `{}`, which would let a form post or plain
 * text pass as "no fields". Here a non-JSON body is a 400; with `optional`, an empty body is `{}`.
 */
export function jsonBody<Schema extends ZodType>(
  schema: Schema,
  options: { optional?: boolean } = {},
): MiddlewareHandler<AppEnv, string, { in: { json: z.input<Schema> }; out: { json: z.output<Schema> } }> {
  return async (c, next) => {
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
    if (!result.success) throw invalid("json", issuesOf(result.error, "body"));
    c.req.addValidatedData("json", result.data as object);
    await next();
  };
}
