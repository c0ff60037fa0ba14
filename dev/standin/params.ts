/**
 * A JSON param as Postgres text, as Neon's proxy converts it (proxy/src/serverless/json.rs,
 * `json_to_pg_text`): null is SQL NULL, a string is sent as it is, a boolean, number or object as
 * its JSON text, an array as a Postgres array literal. The driver only ever sends strings and
 * nulls; other types come from hand-built requests.
 */
export function jsonToPgText(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return arrayLiteral(value);
  return JSON.stringify(value);
}

/**
 * `json_array_to_pg_array`: elements keep their JSON text, so strings keep their quotes and JSON
 * escapes ({"a","b"}); null is NULL; an object becomes its JSON text as a quoted string; nested
 * arrays nest. Numbers are written by JavaScript: 1.0 arrives as 1 (serde_json would write 1.0).
 */
function arrayLiteral(values: unknown[]): string {
  const elements = values.map((value) => {
    if (value === null) return "NULL";
    if (Array.isArray(value)) return arrayLiteral(value);
    if (typeof value === "object") return JSON.stringify(JSON.stringify(value));
    return JSON.stringify(value);
  });
  return `{${elements.join(",")}}`;
}
