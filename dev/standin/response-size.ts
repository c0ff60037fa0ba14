import type { QueryResultWire } from "./backend";
import { proxyError } from "./neon-error";

/**
 * Neon's response limit (sql_over_http.rs, `query_to_json`): before each row is appended, the JSON
 * built so far, which for a batch includes every earlier result, must not be over `limitBytes`;
 * otherwise the request fails with 507 (a batch is rolled back). So a response may end up past the
 * limit by its last row, and statements without rows never fail. Results are measured in the
 * order they are serialized, which is Neon's key order.
 *
 * Returns the check to call on each statement's result as it arrives.
 */
export function createResponseBudget(limitBytes: number, kind: "single" | "batch"): (result: QueryResultWire) => void {
  let bytes = kind === "batch" ? byteLength('{"results":[') : 0;
  let results = 0;
  return (result) => {
    const before = bytes + (results > 0 ? 1 : 0);
    results += 1;
    const whole = byteLength(JSON.stringify(result));
    // A result that fits whole was within the limit before each of its rows too.
    if (before + whole <= limitBytes) {
      bytes = before + whole;
      return;
    }
    bytes = before + byteLength(`{"fields":${JSON.stringify(result.fields)},"rows":[`);
    result.rows.forEach((row, index) => {
      if (bytes > limitBytes) throw proxyError(507, `response is too large (max is ${limitBytes} bytes)`);
      bytes += (index > 0 ? 1 : 0) + byteLength(JSON.stringify(row));
    });
    bytes = before + whole;
  };
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}
