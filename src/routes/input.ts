import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import type { ZodType } from "zod";
import { ERROR_CODES, httpError } from "../errors";

/**
 * Hono's validator with this service's error shape: a failing input answers
 * 400 `{"error": "invalid_request", "issues": [{path, message}, ...]}`, one entry per bad field.
 */
export function input<Target extends keyof ValidationTargets, Schema extends ZodType>(target: Target, schema: Schema) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      throw httpError(400, {
        error: ERROR_CODES.invalidRequest,
        error_description: `The request ${target} is invalid.`,
        issues: result.error.issues.map((issue) => ({
          path: issue.path.map(String).join(".") || target,
          message: issue.message,
        })),
      });
    }
  });
}
